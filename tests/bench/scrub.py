"""What a scrub costs the page at 10,000 tasks: key to the board redrawn, and the page's main thread while playing
at 60x. One real Chromium page replays a finished run from the history.

    python -m tests.bench.scrub [--tasks 10000] [--moments 20] [--play-seconds 10] [--json tests/bench/results.json]

A server (`main.py` on a free port, a data folder of its own) runs one run to its end (failures, hangs and time
limits included) and retries its failed tasks once, about a minute and a half of real time; then a small second
run goes by, so that the first is a run of the history (playing it to its end pauses there rather than going live).
The page opens `/?run=1&at=0` and the slider takes keys (arrows 1 s, PageUp/PageDown 10 s, never to the end) with
time for the moment to be announced between them, as a user scrubbing step by step. For each key, in the page
(performance.now()): the key down, the server's message with the grid's new moment arriving (Socket.IO: the whole
snapshot, or a patch of it, `grid.TaskGrid.redraw`), the DOM changed for it (a task queued as it arrived runs after
NiceGUI's handler and Vue's redraw), and the frame after that painted (a task queued from the next animation frame).
Then playing at 60x from the start to the end, again and again, for `--play-seconds` of
playing: the main thread's busy time (CDP Performance.getMetrics TaskDuration) over the wall time, in % of a core,
and the server's CPU (/proc) meanwhile. Prints a table and keeps the figures in the JSON under "scrub" (what other
benchmarks wrote stays). Not a pytest test: the figures depend on the machine.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from typing import Any

import httpx
from playwright.async_api import async_playwright

from .bench import CHROMIUM, CHROMIUM_ARGS
from .page import main_thread_seconds
from .procs import Server, cpu_seconds, kill_leftovers, machine, wait_quiet
from .replay import percentile
from .state_at import start, wait_until_over
from .table import keep, size

RUN = {'speed': 2.0, 'min_duration': 5.0, 'max_duration': 60.0, 'failure_rate': 0.2, 'stall_rate': 0.05,
       'task_timeout': 90.0, 'concurrency': 0, 'seed': 1}  # tasks of 2.5-30 s, hung ones cut at 45 s; then a retry
AFTER = {'tasks': 10, 'speed': 100.0, 'min_duration': 1.0, 'max_duration': 2.0, 'seed': 2}  # over at once
SETTLE_S = 0.8  # between two keys: the page announces the moment 0.6 s after the last key
WAIT_MS = 20_000
INSTRUMENT = '''() => {
  const gridId = document.querySelector('#replay-tasks').parentElement.id.slice(1);
  const s = window.__scrub = {gridId, t0: null, arrived: null, patched: null, painted: null, size: null, frames: 0};
  document.addEventListener('keydown', (event) => {
    if (event.target.closest?.('.replay-bar .q-slider')) {
      Object.assign(s, {t0: performance.now(), arrived: null, patched: null, painted: null, size: null});
    }
  }, true);
  const patch = `return runMethod(${gridId}, "load", `;
  window.socket.onAny((name, msg) => {  // before NiceGUI's own handler of the message
    let size = null;  // the grid's new moment: the whole snapshot in its props, or a patch of it (grid.redraw)
    if (name === 'update' && msg[gridId]) size = JSON.stringify(msg[gridId].props?.snapshot ?? null).length;
    else if (name === 'run_javascript' && msg.code?.startsWith(patch)) size = msg.code.length - patch.length;
    if (size === null) return;
    s.frames += 1;
    if (s.t0 === null || s.arrived !== null) return;
    s.arrived = performance.now();
    s.size = size;
    setTimeout(() => {  // after NiceGUI's handler, and Vue's redraw (a microtask after it): the DOM is changed
      s.patched = performance.now();
      requestAnimationFrame(() => setTimeout(() => { s.painted = performance.now(); }, 0));
    }, 0);
  });
  return gridId;
}'''
TIMES = '''() => { const s = window.__scrub;
  return [s.t0, s.arrived, s.patched, s.painted, s.size]; }'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m tests.bench.scrub', description=__doc__.split('\n')[0])
    parser.add_argument('--tasks', type=int, default=10_000)
    parser.add_argument('--moments', type=int, default=20, help='keys pressed on the slider (default 20)')
    parser.add_argument('--play-seconds', type=float, default=10.0, help='playing at 60x, in all (default 10)')
    parser.add_argument('--speed', type=float, default=RUN['speed'],
                        help=f'of the run replayed (default {RUN["speed"]:g}: it lasts about 90 s)')
    parser.add_argument('--json', default='tests/bench/results.json', help='where to keep the figures')
    args = parser.parse_args(argv)
    busy = wait_quiet(timeout_s=8.0)
    server = Server(tasks=args.tasks, speed=RUN['speed'], min_duration=RUN['min_duration'],
                    max_duration=RUN['max_duration'])
    try:
        server.wait_ready()
        run_s = prepare(server, {**RUN, 'tasks': args.tasks, 'speed': args.speed})
        figures = asyncio.run(measure(server, args.moments, args.play_seconds))
        figures['server_tracebacks'] = server.log_text().count('Traceback')
    finally:
        server.stop()
        kill_leftovers()
    figures.update(tasks=args.tasks, run_s=run_s, machine_busy_before_pct=busy,
                   load_average=[round(load, 2) for load in os.getloadavg()])
    keep(args.json, {'scrub': figures})
    print_table(figures)
    return 0


def prepare(server: Server, settings: dict[str, Any]) -> float:
    """Run 1 to its end and its retry to its end, then a small run 2: run 1 is in the history. Its length, s."""
    with httpx.Client(base_url=server.base, timeout=60) as http:
        first = start(http, settings)
        wait_until_over(http)
        assert http.post('/retry').status_code == 200
        wait_until_over(http)
        start(http, AFTER)
        wait_until_over(http)
        (row,) = [row for row in http.get('/runs').json() if row['id'] == first]
        return row['elapsed_s']


async def measure(server: Server, moments: int, play_seconds: float) -> dict[str, Any]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={'width': 1280, 'height': 900})
            page = await context.new_page()
            errors: list[str] = []
            page.on('pageerror', lambda error: errors.append(str(error)))
            cdp = await context.new_cdp_session(page)
            await cdp.send('Performance.enable')
            began = time.monotonic()
            await page.goto(f'{server.base}/?run=1&at=0')
            await page.locator('#replay-tasks .task-card').first.wait_for(timeout=WAIT_MS)
            figures: dict[str, Any] = {'open_s': round(time.monotonic() - began, 2),
                                       'cards_in_dom': await page.locator('#replay-tasks .task-card').count()}
            end = float(await page.get_by_role('slider', name='Moment of the run').get_attribute('aria-valuemax'))
            await page.evaluate(INSTRUMENT)
            figures['scrub'] = await scrub(page, end, moments)
            figures['playing'] = await play(page, cdp, server, end, play_seconds)
            figures['page_errors'] = errors[:5]
            figures['machine'] = machine(browser.version)
        finally:
            await browser.close()
    return figures


async def scrub(page: Any, end: float, moments: int) -> dict[str, Any]:
    """Key after key on the slider, each to a moment before the end; per key, ms from key down to the answer
    arriving, the DOM changed and the next frame painted."""
    keys = page.locator('.replay-bar .q-slider [tabindex="0"]')
    await keys.focus()
    position, rows, wrong = 0.0, [], 0  # the page opened at the start
    for number in range(moments):
        key, position = next_key(number, position, end)
        times = await press(page, key)
        readout = await page.locator('.replay-time').inner_text()
        wrong += readout != f'{position:,.1f} s of {end:,.1f} s'
        rows.append(times)
    arrived, patched, painted = (sorted(row[i] for row in rows) for i in range(3))
    return {'moments': len(rows), 'wrong_moment': wrong, 'snapshot_bytes': max(row[3] for row in rows),
            **{f'{name}_ms': {'p50': round(percentile(values, 50), 1), 'p95': round(percentile(values, 95), 1),
                              'max': round(values[-1], 1)}
               for name, values in (('arrived', arrived), ('patched', patched), ('painted', painted))}}


def next_key(number: int, position: float, end: float) -> tuple[str, float]:
    """A jump of 10 s every third key, else a second forward; back 10 s when the end is near (the end of a run
    would be a moment too, but a live run's end is the live board)."""
    if number % 3 == 0 and position + 10 < end - 1:
        return 'PageUp', position + 10
    if position + 1 < end - 1:
        return 'ArrowRight', position + 1
    return 'PageDown', max(0.0, position - 10)


async def press(page: Any, key: str) -> tuple[float, float, float, int]:
    await page.keyboard.press(key)
    await page.wait_for_function('() => window.__scrub.painted !== null', timeout=WAIT_MS, polling=20)
    t0, arrived, patched, painted, snapshot = await page.evaluate(TIMES)
    await asyncio.sleep(SETTLE_S)  # a user scrubbing key by key: the moment is announced in between
    return arrived - t0, patched - t0, painted - t0, snapshot


async def play(page: Any, cdp: Any, server: Server, end: float, play_seconds: float) -> dict[str, Any]:
    """Play at 60x from the start to the end, pass after pass, until `play_seconds` of playing: the page's main
    thread and the server's CPU over the playing time only."""
    await page.locator('.replay-speed').get_by_role('button', name='60x').click()
    keys = page.locator('.replay-bar .q-slider [tabindex="0"]')
    wall = busy = script = server_cpu = 0.0
    passes = frames = 0
    while wall < play_seconds:
        await keys.press('Home')
        await page.locator('.replay-time').filter(has_text=re.compile(r'^0\.0 s of')).wait_for(timeout=WAIT_MS)
        await asyncio.sleep(SETTLE_S)
        before, frames_before = await main_thread_seconds(cdp), await page.evaluate('() => window.__scrub.frames')
        cpu_before, began = cpu_seconds(server.pid), time.monotonic()
        await page.get_by_role('button', name='Play', exact=True).click()
        await page.get_by_role('button', name='Pause', exact=True).wait_for(timeout=WAIT_MS)
        await page.get_by_role('button', name='Play', exact=True).wait_for(timeout=WAIT_MS + 1000 * end / 60)  # the end
        wall += time.monotonic() - began
        after = await main_thread_seconds(cdp)
        server_cpu += cpu_seconds(server.pid) - cpu_before
        busy += after['TaskDuration'] - before['TaskDuration']
        script += after['ScriptDuration'] - before['ScriptDuration']
        frames += await page.evaluate('() => window.__scrub.frames') - frames_before
        passes += 1
    return {'passes': passes, 'wall_s': round(wall, 2), 'frames': frames,
            'frames_per_s': round(frames / wall, 1), 'main_thread_pct': round(100 * busy / wall, 1),
            'script_pct': round(100 * script / wall, 1), 'server_cpu_pct': round(100 * server_cpu / wall, 1)}


def print_table(figures: dict[str, Any]) -> None:
    m, s, p = figures['machine'], figures['scrub'], figures['playing']
    print(f'\nmachine: {m["cores"]} cores, {m["cpu"]}, {m["memory_gb"]} GB, Python {m["python"]}, Chromium '
          f'{m["chromium"]} (busy {figures["machine_busy_before_pct"]:.0f} % of a core before; load average '
          f'{", ".join(map(str, figures["load_average"]))} after)')
    print(f'a finished run of {figures["tasks"]:,} tasks from the history, {figures["run_s"]:.1f} s long (a retry '
          f'included); the page opened at its start in {figures["open_s"]:.1f} s ({figures["cards_in_dom"]} cards '
          'in the DOM)\n')
    print(f'| figure | N={figures["tasks"]:,} |')
    print('|---|---|')
    for key, label in (('arrived', 'the grid\'s new snapshot arrived'), ('patched', 'the DOM changed'),
                       ('painted', 'the frame after it painted')):
        f = s[f'{key}_ms']
        print(f'| scrub, key to {label}: ms p50 / p95 / max (n={s["moments"]}) | '
              f'{f["p50"]:.0f} / {f["p95"]:.0f} / {f["max"]:.0f} |')
    print(f'| scrub: grid message per moment (largest); moments not as expected | {size(s["snapshot_bytes"])}; '
          f'{s["wrong_moment"]} |')
    print(f'| playing at 60x: page main thread Task / Script (% of 1 core) | {p["main_thread_pct"]:.1f} / '
          f'{p["script_pct"]:.1f} % |')
    print(f'| playing at 60x: frames/s; server CPU (% of 1 core) | {p["frames_per_s"]:.1f}; '
          f'{p["server_cpu_pct"]:.1f} % |')
    print(f'| playing at 60x: playing time measured (passes) | {p["wall_s"]:.1f} s ({p["passes"]}) |')
    print(f'| page errors; server tracebacks | {len(figures["page_errors"])}; {figures["server_tracebacks"]} |')


if __name__ == '__main__':
    sys.exit(main())
