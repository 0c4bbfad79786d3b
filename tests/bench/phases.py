"""The measurements of one server: a fresh run for each phase, a window of wall time, and what it cost."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import time
from typing import Any

import httpx

from taskdemo.settings import RunSettings

from . import page as board
from .procs import Server, busy_seconds, cpu_seconds, helper_cpu_seconds, rss_mb, send_queue, wait_quiet
from .relay import RelayProcess, delta
from .replay import Replay, freshness
from .viewers import SlowViewer, Viewer, finished_count, frame_samples, frame_stats, run_viewer

FRAME_S = 0.5
STOP_TIMEOUT_S = 15.0
SETTLE_S = 1.0  # after the full grid, before the window: the page catches up with what changed while it loaded


class Bench:
    def __init__(self, server: Server, relay: RelayProcess, replay: Replay, settings: RunSettings, seconds: float,
                 *, quiet_timeout: float) -> None:
        self.server = server
        self.relay = relay
        self.replay = replay
        self.settings = settings
        self.seconds = seconds
        self.quiet_timeout = quiet_timeout
        self.http = httpx.AsyncClient(base_url=server.base, timeout=60)
        self.run_settings: dict[str, Any] = {}
        self.lead_ms = 0.0
        self.busy_before_pct = 0.0

    async def fresh_run(self) -> None:
        """Reset and start, so every task runs from 0 % in each phase; the replay learns the new start time.
        First wait (a little) for a quiet machine: other people's work would be measured too."""
        self.busy_before_pct = await asyncio.to_thread(wait_quiet, timeout_s=self.quiet_timeout)
        await self.http.post('/reset')
        answer = (await self.http.post('/start', json=self.settings.as_dict())).json()
        status = (await self.http.get('/status')).json()
        if (status['state'] != 'running' or status['total'] != self.settings.tasks
                or status['settings'] != self.settings.as_dict()):
            raise RuntimeError(f'the run did not start as asked (the replay would be wrong): {answer}, '
                               f'state {status["state"]}, {status["total"]} tasks, settings {status["settings"]}')
        self.run_settings = status['settings']
        self.replay = dataclasses.replace(self.replay, started_at=status['started_at'])
        self.lead_ms = await self._clock_lead(status['started_at'])

    async def _clock_lead(self, started_at: float, probes: int = 5) -> float:
        """How far the server's run clock (elapsed_s) is ahead of wall time since `started_at`, roughly: the
        largest elapsed_s - (time asked - started_at) over a few GET /status (low by up to one tick)."""
        leads = []
        for _ in range(probes):
            asked = time.time()
            status = (await self.http.get('/status')).json()
            leads.append(status['elapsed_s'] - (asked - started_at))
            await asyncio.sleep(0.037)
        return round(1000 * max(leads), 1)

    async def status(self) -> tuple[float, float, dict[str, Any]]:
        asked = time.time()
        status = (await self.http.get('/status')).json()
        return asked, time.time(), status

    def replay_mismatches(self, asked: float, answered: float, status: dict[str, Any]) -> int:
        """Tasks whose progress on the server is not what the replay says (one tick of slack either side)."""
        wrong = 0
        for task, entry in status['individual'].items():
            low = self.replay.progress_at(int(task), asked - 0.25)
            high = self.replay.progress_at(int(task), answered + 0.15)
            wrong += not low <= entry['progress'] <= high
        return wrong

    async def window(self) -> dict[str, Any]:
        """Measure the server (and relay, and this process) over `seconds` of wall time."""
        before = await self._costs()
        await asyncio.sleep(self.seconds)
        after = await self._costs()
        return self._cost_delta(before, after)

    async def _costs(self) -> dict[str, Any]:
        browser, helpers = helper_cpu_seconds({self.server.pid, self.relay.pid})
        return {'time': time.time(), 'server': cpu_seconds(self.server.pid), 'relay': cpu_seconds(self.relay.pid),
                'self': cpu_seconds(os.getpid()) + helpers, 'bytes': await asyncio.to_thread(self.relay.stats),
                'browser': browser, 'machine': busy_seconds()}

    @staticmethod
    def _cost_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        wall = after['time'] - before['time']
        pct = {name: round(100 * (after[name] - before[name]) / wall, 1)
               for name in ('server', 'relay', 'self', 'browser', 'machine')}
        pct['others'] = round(pct.pop('machine') - sum(pct.values()), 1)  # processes this benchmark did not start
        return {'begin': before['time'], 'end': after['time'], 'wall_s': round(wall, 3), 'cpu_pct': pct,
                'bytes': delta(before['bytes'], after['bytes'])}

    # ---- phases -----------------------------------------------------------------------------------------------

    async def baseline(self) -> dict[str, Any]:
        await self.fresh_run()
        measured = await self.window()
        return {'server_cpu_pct': measured['cpu_pct']['server'], 'wall_s': measured['wall_s']}

    async def status_polling(self, rate: float) -> dict[str, Any]:
        """`rate` requests a second of GET /status (a dashboard polling, a careless script) through the window,
        each on time whatever the one before took: what they cost the server and how long each waited."""
        await self.fresh_run()
        stop = asyncio.Event()
        waits: list[float] = []

        async def poll() -> None:
            due = time.monotonic()
            while not stop.is_set():
                began = time.monotonic()
                await self.http.get('/status')
                waits.append(time.monotonic() - began)
                due += 1 / rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))  # paced: the rate, not as fast as it goes

        poller = asyncio.create_task(poll())
        try:
            measured = await self.window()
        finally:
            stop.set()
            await poller
        waits.sort()
        return {'rate': rate, 'requests': len(waits), 'cpu_pct': measured['cpu_pct'],
                'p50_ms': round(1000 * waits[len(waits) // 2], 1),
                'p95_ms': round(1000 * waits[int(0.95 * len(waits))], 1)}

    async def viewers(self, mode: str, count: int) -> dict[str, Any]:
        await self.fresh_run()
        url = f'ws://127.0.0.1:{self.relay.port}/ws' + ('?mode=changes' if mode == 'changes' else '')
        viewers = [Viewer(i, keep_frames=i == 0) for i in range(count)]
        ready = [asyncio.Event() for _ in viewers]
        stop = asyncio.Event()
        before_connect = await asyncio.to_thread(self.relay.stats)
        tasks = [asyncio.create_task(run_viewer(url, v, r, stop)) for v, r in zip(viewers, ready, strict=True)]
        try:
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), timeout=90)
            first = delta(before_connect, await asyncio.to_thread(self.relay.stats))
            measured = await self.window()
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
            for task in tasks:
                task.cancel()
        asked, answered, status = await self.status()
        begin, end = measured['begin'], measured['end']
        finished = status['completed'] + status['failed']
        margin = self.replay.finished_between(end - FRAME_S - 0.2, answered) + 1
        need = int(self.seconds / FRAME_S) - 2
        per_client = []
        for viewer in viewers:
            stats = frame_stats(viewer, begin, end)
            stats['gap'] = abs(finished_count(viewer.last) - finished) if viewer.last else None
            stats['short'] = bool(viewer.error) or stats['frames'] < need
            stats['behind'] = stats['gap'] is None or stats['gap'] > margin
            stats['kept_up'] = not stats['short'] and not stats['behind']
            per_client.append(stats)
        conn_bytes = [down for up, down in measured['bytes'].values() if up or down]
        first_bytes = sorted(down for up, down in first.values() if down)
        samples = frame_samples(viewers[0].kept, begin, end)
        ok = [v for v in viewers if not v.error]
        return {
            'mode': mode, 'viewers': count, 'connected': len(ok), 'errors': sorted({v.error for v in viewers} - {''}),
            'extensions': viewers[0].extensions,
            'bytes_per_client_s': round(sum(conn_bytes) / max(1, count) / measured['wall_s']),
            'bytes_per_client_s_min_max': [round(min(conn_bytes, default=0) / measured['wall_s']),
                                           round(max(conn_bytes, default=0) / measured['wall_s'])],
            'cpu_pct': measured['cpu_pct'],
            'kept_up': sum(c['kept_up'] for c in per_client), 'frames_needed': need,
            'short_of_frames': sum(c['short'] for c in per_client),
            'behind_on_counters': sum(c['behind'] for c in per_client),
            'max_counter_gap': max((c['gap'] or 0) for c in per_client), 'status_after_end_s': round(answered - end, 2),
            'min_frames': min(c['frames'] for c in per_client),
            'max_gap_s': max((c['max_gap_s'] or 0) for c in per_client), 'finished_margin': margin,
            'first_frame_s': round(statistics.median(v.first_frame_s for v in ok), 3) if ok else None,
            'first_frame_bytes': first_bytes[len(first_bytes) // 2] if first_bytes else None,
            'freshness': freshness(self.replay, samples, (begin + end) / 2),
            'replay_mismatches': self.replay_mismatches(asked, answered, status),
            'running_at_end': status['running'], 'server_clock_lead_ms': self.lead_ms,
            'machine_busy_before_pct': self.busy_before_pct,
        }

    async def slow_viewer(self, seconds: float, readers: int = 10) -> dict[str, Any]:
        await self.fresh_run()
        url = f'ws://127.0.0.1:{self.server.port}/ws'  # straight to the server: no relay buffers in between
        viewers = [Viewer(i, keep_frames=False) for i in range(readers)]
        ready = [asyncio.Event() for _ in viewers]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(run_viewer(url, v, r, stop)) for v, r in zip(viewers, ready, strict=True)]
        slow = None
        try:
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), timeout=90)
            rss_before = rss_mb(self.server.pid)
            slow = await asyncio.to_thread(SlowViewer, self.server.port)
            await asyncio.sleep(0.3)
            streams_with_slow = (await self.status())[2].get('streams')
            before, peak = await self._costs(), rss_before
            while time.time() - before['time'] < seconds:
                await asyncio.sleep(0.25)
                peak = max(peak, rss_mb(self.server.pid))
            measured = self._cost_delta(before, await self._costs())
            queued = send_queue(self.server.port, slow.port)
            rss_after = rss_mb(self.server.pid)
            streams_at_end = (await self.status())[2].get('streams')
        finally:
            stop.set()
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
            for task in tasks:
                task.cancel()
        gave_up = await asyncio.to_thread(slow.closed_by_server, 3.0) if slow else None
        if slow:
            slow.close()
        need = int(seconds / FRAME_S) - 2
        stats = [frame_stats(v, measured['begin'], measured['end']) for v in viewers]
        kept = [s['frames'] >= need and not v.error for s, v in zip(stats, viewers, strict=True)]
        return {'seconds': measured['wall_s'], 'handshake': slow.status_line, 'cpu_pct': measured['cpu_pct'],
                'rss_before_mb': round(rss_before, 1), 'rss_peak_mb': round(peak, 1),
                'rss_after_mb': round(rss_after, 1), 'kernel_send_queue_bytes': queued,
                'server_gave_up': gave_up, 'streams_with_slow': streams_with_slow, 'streams_at_end': streams_at_end,
                'others_kept_cadence': sum(kept), 'others': readers,
                'frames_needed': need, 'min_frames': min(s['frames'] for s in stats),
                'max_gap_s': max((s['max_gap_s'] or 0) for s in stats),
                'machine_busy_before_pct': self.busy_before_pct}

    async def page(self, browser: Any, tasks: int) -> dict[str, Any]:
        await self.fresh_run()
        before_load = await self._costs()
        opened = await board.open_board(browser, f'http://127.0.0.1:{self.relay.port}/', tasks)
        try:
            loaded = self._cost_delta(before_load, await self._costs())
            await asyncio.sleep(SETTLE_S)
            baseline_cards = await board.start_observing(opened['page'])
            metrics_before = await board.main_thread_seconds(opened['cdp'])
            measured = await self.window()
            metrics_after = await board.main_thread_seconds(opened['cdp'])
            samples = [s for s in await board.samples(opened['page']) if measured['begin'] <= s[0] <= measured['end']]
            shown_at = time.time()
            shown = await board.shown_percents(opened['page'])
            in_dom = await opened['page'].evaluate(board.TASKS_IN_DOM_JS)
            errors = list(opened['errors'])
        finally:
            await opened['context'].close()
        asked, answered, status = await self.status()
        wall = measured['wall_s']
        main_thread = {name: round(100 * (metrics_after[name] - metrics_before.get(name, 0)) / wall, 1)
                       for name in metrics_after}
        behind = [shown_at - self.replay.reached(task, pct + 1) for task, pct in shown.items()
                  if self.replay.progress_at(task, shown_at) > pct]
        down = sum(d for _, d in measured['bytes'].values())
        up = sum(u for u, _ in measured['bytes'].values())
        return {
            'grid_s': round(opened['grid_s'], 3), 'grid_wall_s': round(opened['grid_wall_s'], 3),
            'load_bytes': sum(d + u for u, d in loaded['bytes'].values()),
            'load_server_cpu_s': round(loaded['cpu_pct']['server'] * loaded['wall_s'] / 100, 2),
            'bytes_down_s': round(down / wall), 'bytes_up_s': round(up / wall), 'cpu_pct': measured['cpu_pct'],
            'main_thread_pct': main_thread, 'baseline_cards': baseline_cards,
            'freshness': freshness(self.replay, samples, (measured['begin'] + measured['end']) / 2),
            'server_changes_in_window': self.replay.changes_between(measured['begin'], measured['end'], in_dom),
            'cards_in_dom': opened['cards_in_dom'], 'cards_in_dom_at_end': len(in_dom),
            'cards_running_at_end': len(shown), 'cards_behind_at_end': len(behind),
            'max_behind_s': round(max(behind), 2) if behind else 0.0,
            'errors': errors[:5], 'replay_mismatches': self.replay_mismatches(asked, answered, status),
            'running_at_end': status['running'], 'server_clock_lead_ms': self.lead_ms,
            'machine_busy_before_pct': self.busy_before_pct,
        }
