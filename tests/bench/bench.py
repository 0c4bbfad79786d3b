"""taskdemo benchmark: the simulator alone, one real Chromium page, and K protocol-level viewers, per task count.

    python -m tests.bench.bench [--sizes 50,1000,10000] [--seconds 8] [--viewers 10,100] [--json PATH] [--quick]
    python -m tests.bench.bench --phases cluster [--quick]      # one process vs two behind HAProxy (cluster.py)

For each N it starts a fresh server (`main.py --tasks N --seed 1`), and before each phase resets and starts a run,
so tasks are running through the whole window. Every byte count goes through a loopback TCP relay (relay.py).
Not a pytest test: it takes minutes and its figures depend on the machine. Prints one table and writes JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from taskdemo.settings import RunSettings

from . import cluster, table
from .phases import Bench
from .procs import ROOT, Server, kill_leftovers, machine, wait_quiet
from .relay import RelayProcess
from .replay import Replay, time_steps

CHROMIUM = '/usr/bin/chromium'
STATUS_RATE = 20.0  # requests a second of GET /status: a dashboard polling, or a careless script
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run']


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m tests.bench.bench', description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', help='task counts, comma separated (default 50,1000,10000; quick: 50,1000)')
    parser.add_argument('--seconds', type=float, help='measurement window per phase (default 8; quick: 3)')
    parser.add_argument('--viewers', help='numbers of /ws clients, comma separated (default 10,100; quick: 10)')
    parser.add_argument('--slow-seconds', type=float,
                        help='window of the never-reading viewer (default 20: past the server\'s 10 s send '
                             'timeout once the kernel buffers are full)')
    parser.add_argument('--speed', type=float, default=2.0, help='simulated seconds per real second (default 2)')
    parser.add_argument('--min-duration', type=float, default=60.0, help='shortest task, simulated s (default 60)')
    parser.add_argument('--max-duration', type=float, default=120.0, help='longest task, simulated s (default 120)')
    parser.add_argument('--json', default='tests/bench/results.json', help='where to write the results')
    parser.add_argument('--quick', action='store_true', help='a short smoke run')
    parser.add_argument('--phases', default='board',
                        help='board (the figures above, per task count), cluster (one process vs two behind '
                             'HAProxy with Redis: tests/bench/cluster.py), or both: board,cluster (default board). '
                             'The JSON keeps what a phase not run had written')
    parser.add_argument('--cluster-steps', help='cluster: numbers of viewers, half pages and half /ws?mode=changes, '
                                                'tried in turn while the target holds (default '
                                                '25,50,75,100,150,200,300,400; quick: 50,150)')
    parser.add_argument('--cluster-seconds', type=float, help='cluster: measurement window per step (default 10; '
                                                              'quick: 5)')
    parser.add_argument('--cluster-speed', type=float, default=2.0,
                        help='cluster: run speed (default 2; tasks of 30-120 simulated s last 15-60 s)')
    parser.add_argument('--no-page', action='store_true', help='skip the Chromium page')
    parser.add_argument('--root', default=str(ROOT),
                        help='run the server from this checkout (e.g. an older commit, to measure side by side)')
    parser.add_argument('--server-env', action='append', default=[], metavar='NAME=VALUE',
                        help='an environment variable for the server, e.g. TASKDEMO_COMPRESSION=on (repeatable)')
    args = parser.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(',') if p.strip()]
    if not args.phases or set(args.phases) - {'board', 'cluster'}:
        parser.error(f'--phases: board, cluster or both, not {",".join(args.phases)!r}')
    args.cluster_sizes = [int(s) for s in args.sizes.split(',')] if args.sizes else None  # cluster: 50,1000
    args.cluster_steps = [int(v) for v in args.cluster_steps.split(',')] if args.cluster_steps else None
    args.sizes = [int(s) for s in (args.sizes or ('50,1000' if args.quick else '50,1000,10000')).split(',')]
    args.viewers = [int(v) for v in (args.viewers or ('10' if args.quick else '10,100')).split(',')]
    args.seconds = args.seconds or (3.0 if args.quick else 8.0)
    args.slow_seconds = args.slow_seconds or (args.seconds if args.quick else max(20.0, args.seconds))
    return args


async def bench_size(tasks: int, args: argparse.Namespace, browser: Any, log: Any) -> dict[str, Any]:
    settings = RunSettings(tasks=tasks, seed=1, speed=args.speed, min_duration=args.min_duration,
                           max_duration=args.max_duration)
    result: dict[str, Any] = {'tasks': tasks, 'settings': settings.as_dict()}
    result['machine_busy_before_pct'] = wait_quiet(timeout_s=3.0 if args.quick else 8.0)
    log(f'N={tasks}: simulator alone (machine busy {result["machine_busy_before_pct"]:.0f} % of a core before)')
    result['simulator'] = time_steps(settings, steps=300, budget_s=10 if args.quick else 30)
    replay = Replay.of(settings, started_at=0.0)
    server = Server(tasks=tasks, speed=args.speed, min_duration=args.min_duration, max_duration=args.max_duration,
                    extra_env=dict(item.split('=', 1) for item in args.server_env), root=Path(args.root))
    try:
        await measure_server(result, server, replay, settings, args, browser, log)
    except Exception as error:  # noqa: BLE001 (one size that fails is reported; the others still run)
        result['error'] = f'{type(error).__name__}: {error}'
        log(f'N={tasks}: failed: {result["error"][:300]}')
    finally:
        log_text = server.log_text()
        server.stop()
    result['server_tracebacks'] = log_text.count('Traceback')
    result['server_log_tail'] = log_text[-1500:] if result['server_tracebacks'] else ''
    return result


async def measure_server(result: dict[str, Any], server: Server, replay: Replay, settings: RunSettings,
                         args: argparse.Namespace, browser: Any, log: Any) -> None:
    tasks = settings.tasks
    relay = bench = None
    try:
        result['server_ready_s'] = round(server.wait_ready(), 2)
        relay = RelayProcess(server.port, cwd=str(ROOT))
        bench = Bench(server, relay, replay, settings, args.seconds, quiet_timeout=3.0 if args.quick else 8.0)
        log(f'N={tasks}: no viewer')
        result['baseline'] = await bench.baseline()
        log(f'N={tasks}: GET /status x{STATUS_RATE:g}/s')
        result['status_polling'] = await bench.status_polling(STATUS_RATE)
        result['ws'], result['ref_key'] = {}, f'fullx{args.viewers[0]}'
        for count in args.viewers:
            for mode in ('full', 'changes'):
                log(f'N={tasks}: /ws {mode} x{count}')
                result['ws'][f'{mode}x{count}'] = await bench.viewers(mode, count)
        log(f'N={tasks}: slow viewer')
        result['slow'] = await bench.slow_viewer(args.slow_seconds)
        if browser is None:
            result['page_error'] = 'skipped (--no-page)' if args.no_page else 'Chromium did not start'
        else:
            log(f'N={tasks}: Chromium page')
            try:
                result['page'] = await bench.page(browser, tasks)
            except Exception as error:  # noqa: BLE001 (a page that cannot be measured is reported, not hidden)
                result['page_error'] = f'{type(error).__name__}: {error}'
                log(f'N={tasks}: the page could not be measured: {result["page_error"]}')
        result['run_settings_on_server'] = bench.run_settings
        phases = [*result['ws'].values(), result['slow'], result.get('page', {})]
        result['relay_cpu_max_pct'] = max((p.get('cpu_pct', {}).get('relay', 0) for p in phases), default=0)
        result['others_cpu_max_pct'] = max((p.get('cpu_pct', {}).get('others', 0) for p in phases), default=0)
        result['server_clock_lead_ms'] = [p['server_clock_lead_ms'] for p in phases if 'server_clock_lead_ms' in p]
    finally:
        if bench is not None:
            await bench.http.aclose()
        if relay is not None:
            relay.stop()


async def run(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    report: dict[str, Any] = {}
    if 'board' in args.phases:
        report = await run_board(args, log)
    if 'cluster' in args.phases:
        report['cluster'] = await cluster.run_cluster(args, log)
        report['cluster']['options'] = {k: v for k, v in vars(args).items() if k.startswith('cluster') or k in (
            'quick', 'json')}
        report['cluster']['machine'] = machine('n/a (not used)')
    return report


async def run_board(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    results = []
    async with async_playwright() as playwright:
        browser = None
        if not args.no_page:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        version = browser.version if browser else 'n/a (not started)'
        try:
            for tasks in args.sizes:
                results.append(await bench_size(tasks, args, browser, log))
        finally:
            if browser is not None:
                await browser.close()
    return {'machine': machine(version), 'results': results}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below on `kill` too

    def log(message: str) -> None:
        print(f'[{time.monotonic() - began:6.1f} s] {message}', file=sys.stderr, flush=True)

    try:
        report = asyncio.run(run(args, log))
    except KeyboardInterrupt:
        log('interrupted: nothing written')
        return 130
    finally:
        leftovers = kill_leftovers()
        if leftovers:
            log(f'killed leftover processes: {leftovers}')
    if 'board' in args.phases:
        report['options'] = dict(vars(args))
        report['took_s'] = round(time.monotonic() - began, 1)
    written = Path(args.json)
    kept = json.loads(written.read_text()) if written.exists() else {}  # what the phases not run had written
    written.write_text(json.dumps({**kept, **report}, indent=1))
    if 'board' in args.phases:
        print_board(report, args)
    if 'cluster' in args.phases:
        print_cluster(report, args)
    return 0


def print_cluster(report: dict[str, Any], args: argparse.Namespace) -> None:
    c = report['cluster']
    m = c['machine']
    plan = c['plan']
    print(f'\nmachine: {m["cores"]} cores, {m["cpu"]}, {m["memory_gb"]} GB, Python {m["python"]}, Linux {m["kernel"]}')
    print(f'cluster phase: seed 1, speed {plan["speed"]:g}, durations {plan["min_duration"]:g}-{plan["max_duration"]:g}'
          f' simulated s, a fresh run per step, settle {plan["settle_s"]:g} s, window {plan["window_s"]:g} s; viewers '
          f'half NiceGUI page clients (socket.io), half /ws?mode=changes, all from this process; took '
          f'{c["took_s"]:.0f} s\n')
    print(cluster.render(c))
    print(f'\nheld = page freshness p95 <= {cluster.PAGE_TARGET_MS:.0f} ms, /ws freshness p95 <= '
          f'{cluster.PAGE_TARGET_MS + cluster.WS_INTERVAL_MS:.0f} ms (its 0.5 s frame interval added), and every '
          f'viewer kept up (no silence > {cluster.MAX_SILENCE_S:g} s, age of what it was sent p95 <= '
          f'{cluster.AGE_TARGET_MS:.0f} ms). CPU = % of one core over the window; gen = this load generator; others '
          f'= processes this benchmark did not start (the machine is shared). '
          f'HAProxy marked its server c (nothing listening) down: {c.get("haproxy_marked_c_down")}. JSON: '
          f'{args.json} ("cluster")')
    for problem in c['problems']:
        print(f'problem: {problem[:600]}')


def print_board(report: dict[str, Any], args: argparse.Namespace) -> None:
    m = report['machine']
    print(f'\nmachine: {m["cores"]} cores, {m["cpu"]}, {m["memory_gb"]} GB, Python {m["python"]}, '
          f'Chromium {m["chromium"]}, Linux {m["kernel"]}')
    print(f'run: seed 1, speed {args.speed:g}, durations {args.min_duration:g}-{args.max_duration:g} simulated s, '
          f'window {args.seconds:g} s per phase, a fresh run per phase; took {report["took_s"]:.0f} s\n')
    print(table.render(report['results'], args.viewers))
    print(f'\nratios: (xR) = this figure / the same figure of the seed-style stream at the same N; REF = one client '
          f'of /ws full x{args.viewers[0]}. Freshness = time shown - time the server reached that percent (replayed '
          f'from the seed), ms. CPU = % of one core. Bytes = TCP payload through the relay. JSON: {args.json}')
    extensions = {v.get('extensions') or 'none' for r in report['results'] for v in r.get('ws', {}).values()}
    print(f'/ws compression negotiated by the clients (as browsers do): {", ".join(sorted(extensions))}')
    for result in report['results']:
        if 'error' in result:
            print(f'N={result["tasks"]}: failed: {result["error"][:500]}')
        if result['server_tracebacks']:
            print(f'N={result["tasks"]}: the server logged {result["server_tracebacks"]} traceback(s); see the JSON')


if __name__ == '__main__':
    sys.exit(main())
