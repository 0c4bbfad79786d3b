"""What `GET /runs/{id}/state?at=` costs at 10,000 tasks: a run replayed at random moments, over HTTP, from a real
server.

    python -m tests.bench.state_at [--tasks 10000] [--requests 60] [--json tests/bench/results.json]

A server (`main.py` on a free port, a data folder of its own) runs one run to its end, failures, hangs and time
limits included, and retries its failed tasks once (so the replay has second attempts and events); then a second,
slow run starts and keeps running. Each run is asked for its board at `--requests` random moments, one request at a
time, as a browser asks (gzip): the finished run from the history, the second one live from memory while it goes
on. The first request of each is shown apart: it builds the replay (reading the run back from SQLite, for the
finished one); later ones reuse it, but for the live run whenever a moment later than the replay reaches is asked.
Prints a table (ms from request to the whole answer read, client side) and keeps the figures in the JSON under
"state_at" (what other phases wrote stays). Not a pytest test: the figures depend on the machine.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

import httpx

from .procs import Server, kill_leftovers, machine, wait_quiet
from .replay import percentile
from .table import keep, size

FINISHED_RUN = {'speed': 10.0, 'min_duration': 5.0, 'max_duration': 60.0, 'failure_rate': 0.2, 'stall_rate': 0.05,
                'task_timeout': 90.0, 'seed': 1}  # about 10 s of real time, then the retry
LIVE_RUN = {'speed': 2.0, 'min_duration': 60.0, 'max_duration': 120.0, 'failure_rate': 0.2, 'stall_rate': 0.05,
            'task_timeout': None, 'seed': 2}  # running for 30 s and more
SETTLE_S = 5.0  # the live run runs this long before it is asked for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m tests.bench.state_at', description=__doc__.split('\n')[0])
    parser.add_argument('--tasks', type=int, default=10_000)
    parser.add_argument('--requests', type=int, default=60, help='requests per run after the first (default 60)')
    parser.add_argument('--json', default='tests/bench/results.json', help='where to keep the figures')
    args = parser.parse_args(argv)
    busy = wait_quiet(timeout_s=8.0)
    server = Server(tasks=args.tasks, speed=2.0, min_duration=60.0, max_duration=120.0)
    try:
        server.wait_ready()
        figures = measure(server, args.tasks, args.requests)
        figures['server_tracebacks'] = server.log_text().count('Traceback')
    finally:
        server.stop()
        kill_leftovers()
    figures.update(tasks=args.tasks, machine=machine('n/a (not used)'), machine_busy_before_pct=busy)
    keep(args.json, {'state_at': figures})
    print_table(figures)
    return 0


def measure(server: Server, tasks: int, requests: int) -> dict[str, Any]:
    rng = random.Random(1)
    with httpx.Client(base_url=server.base, timeout=60, headers={'Accept-Encoding': 'gzip'}) as http:
        finished = start(http, {**FINISHED_RUN, 'tasks': tasks})
        wait_until_over(http)
        assert http.post('/retry').status_code == 200
        wait_until_over(http)
        (row,) = [row for row in http.get('/runs').json() if row['id'] == finished]  # written as it ended
        end = row['elapsed_s']
        live = start(http, {**LIVE_RUN, 'tasks': tasks})
        time.sleep(SETTLE_S)  # a real server running in real time: nothing to wait on but the clock
        figures = {'finished': {**timed(http, finished, lambda: rng.uniform(0, end), requests), 'run_s': end}}
        started_at = http.get('/status').json()['started_at']

        def reached() -> float:  # a moment the live run has reached: its clock goes with the wall clock
            return rng.uniform(0, time.time() - started_at - 0.5)
        figures['live'] = timed(http, live, reached, requests)
        plain = http.get(f'/runs/{finished}/state', params={'at': end / 2}, headers={'Accept-Encoding': 'identity'})
        packed = http.get(f'/runs/{finished}/state', params={'at': end / 2})
        figures['bytes'] = {'plain': len(plain.content), 'gzip': int(packed.headers['content-length'])}
    return figures


def start(http: httpx.Client, settings: dict[str, Any]) -> int:
    answer = http.post('/start', json=settings)
    assert answer.status_code == 200, answer.text
    return answer.json()['run_id']


def wait_until_over(http: httpx.Client, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while http.get('/status').json()['state'] == 'running':
        assert time.monotonic() < deadline, 'the run did not end'
        time.sleep(0.5)  # the server's run goes at real time: there is nothing to wait on


def timed(http: httpx.Client, run_id: int, moment: Any, requests: int) -> dict[str, Any]:
    """The first request (it builds the replay), then `requests` more at random moments, one after the other."""
    waits = []
    for _ in range(requests + 1):
        at = moment()
        began = time.perf_counter()
        answer = http.get(f'/runs/{run_id}/state', params={'at': repr(at)})
        answer.read()
        waits.append(1000 * (time.perf_counter() - began))
        assert answer.status_code == 200, answer.text
    first, rest = waits[0], sorted(waits[1:])
    return {'first_ms': round(first, 1), 'p50_ms': round(percentile(rest, 50), 1),
            'p95_ms': round(percentile(rest, 95), 1), 'max_ms': round(rest[-1], 1), 'requests': len(rest)}


def print_table(figures: dict[str, Any]) -> None:
    m = figures['machine']
    print(f'\nmachine: {m["cores"]} cores, {m["cpu"]}, {m["memory_gb"]} GB, Python {m["python"]}, Linux {m["kernel"]} '
          f'(busy {figures["machine_busy_before_pct"]:.0f} % of a core before)')
    print(f'GET /runs/{{id}}/state?at= at random moments, gzip, one at a time; ms from request to the answer read; '
          f'the finished run lasted {figures["finished"]["run_s"]:.1f} s (a retry included)\n')
    print(f'| figure | N={figures["tasks"]:,} |')
    print('|---|---|')
    for key, label in (('finished', 'finished run, from the history'), ('live', 'live run, while it runs')):
        f = figures[key]
        print(f'| state?at=, {label}: first request ms (builds the replay) | {f["first_ms"]:.0f} |')
        print(f'| state?at=, {label}: ms p50 / p95 / max (n={f["requests"]}) | '
              f'{f["p50_ms"]:.0f} / {f["p95_ms"]:.0f} / {f["max_ms"]:.0f} |')
    print(f'| state?at= answer: plain / gzip | {size(figures["bytes"]["plain"])} / {size(figures["bytes"]["gzip"])} |')
    print(f'| server tracebacks | {figures["server_tracebacks"]} |')


if __name__ == '__main__':
    sys.exit(main())
