"""What polling GET /status costs the server, this code against another checkout, side by side.

    python -m tests.bench.status_cost --before DIR [--tasks 10000] [--rate 20] [--seconds 8] [--rounds 2]

DIR is a checkout of the code to compare with (e.g. `git worktree add /tmp/before <commit>`). Each round starts a
server from each checkout in turn (alternating, so that the machine's drift hits both alike), measures its CPU
over a window with the run going and no viewer, then over a window with `rate` requests a second of GET /status,
and prints the extra CPU and the time each request waited. Not a test: the figures depend on the machine.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path
from typing import Any

from taskdemo.settings import RunSettings

from .phases import Bench
from .procs import ROOT, Server, kill_leftovers
from .relay import RelayProcess
from .replay import Replay


async def measure(root: Path, settings: RunSettings, args: argparse.Namespace) -> dict[str, Any]:
    server = Server(tasks=settings.tasks, speed=settings.speed, min_duration=settings.min_duration,
                    max_duration=settings.max_duration, root=root)
    relay = bench = None
    try:
        server.wait_ready()
        relay = RelayProcess(server.port, cwd=str(ROOT))
        bench = Bench(server, relay, Replay.of(settings, started_at=0.0), settings, args.seconds, quiet_timeout=8.0)
        baseline = (await bench.baseline())['server_cpu_pct']
        polled = await bench.status_polling(args.rate)
        return {'baseline': baseline, 'polled': polled['cpu_pct']['server'], 'extra': polled['cpu_pct']['server']
                - baseline, 'p50_ms': polled['p50_ms'], 'p95_ms': polled['p95_ms'], 'requests': polled['requests']}
    finally:
        if bench is not None:
            await bench.http.aclose()
        if relay is not None:
            relay.stop()
        server.stop()


async def run(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    settings = RunSettings(tasks=args.tasks, seed=1, speed=2.0, min_duration=60.0, max_duration=120.0)
    roots = {'before': Path(args.before).resolve(), 'after': ROOT}
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in roots}
    for round_number in range(args.rounds):
        for name, root in roots.items():
            figures = await measure(root, settings, args)
            found[name].append(figures)
            print(f'round {round_number + 1}, {name}: {figures}', file=sys.stderr, flush=True)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m tests.bench.status_cost', description=__doc__.split('\n')[0])
    parser.add_argument('--before', required=True, help='a checkout of the code to compare with')
    parser.add_argument('--tasks', type=int, default=10_000)
    parser.add_argument('--rate', type=float, default=20.0, help='GET /status requests a second (default 20)')
    parser.add_argument('--seconds', type=float, default=8.0, help='each measurement window (default 8)')
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args(argv)
    try:
        found = asyncio.run(run(args))
    finally:
        kill_leftovers()
    print(f'\nGET /status x{args.rate:g}/s at {args.tasks:,} tasks (speed 2), {args.rounds} rounds side by side, '
          f'{args.seconds:g} s windows; CPU in % of one core\n')
    print('| code | server, run going, no viewer | with the requests | extra | requests answered (asked) | '
          'wait p50 / p95 ms |')
    print('|---|---|---|---|---|---|')
    for name, rounds in found.items():
        def span(key: str, rounds: list[dict[str, Any]] = rounds) -> str:
            values = [r[key] for r in rounds]
            return f'{min(values):.1f}-{max(values):.1f}' if len(values) > 1 else f'{values[0]:.1f}'
        waits = f'{statistics.median(r["p50_ms"] for r in rounds):.0f} / {max(r["p95_ms"] for r in rounds):.0f}'
        answered = '-'.join(str(r['requests']) for r in rounds)
        print(f'| {name} | {span("baseline")} % | {span("polled")} % | {span("extra")} % | {answered} '
              f'({args.rate * args.seconds:.0f}) | {waits} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
