"""A soak: runs back to back at high speed (a new one starts as soon as one ends), a few /ws viewers reading the
whole time and a page load every few seconds, while the server's memory is sampled. Memory must not trend up
(least-squares slope over the second half), the viewers keep their cadence, and every run ends.

In CI: 40 s of warm-up (not fitted: the first pages grow NiceGUI's caches for good), then 60 s sampled every second,
with the history kept to 10 runs so that the database reaches its steady size (and SQLite its page cache) inside
the warm-up: with the default 100 runs a short test fits the history filling up, not a leak (an earlier 15 s fit read
5-11 MB/min on both this code and the code before cluster mode, while 120 page visits left the live objects flat).
TASKDEMO_SOAK=1: 1 minute of warm-up, then 10 minutes sampled every 10 s, with the default 100 runs kept."""
from __future__ import annotations

import asyncio
import contextlib
import time

import httpx

from ..helpers import Server
from .servers import SOAK, Viewer, check_status, open_fds, problems, rss_mb, slope_per_min, visit

WARM_S = 60.0 if SOAK else 40.0
DURATION_S = 600.0 if SOAK else 60.0
SAMPLE_EVERY_S = 10.0 if SOAK else 1.0
PAGE_EVERY_S = 5.0 if SOAK else 2.0
# the second half's slope, MB per minute: 1 MB/min would be 60 MB an hour. 30 s of samples in CI are noisier.
MAX_SLOPE_MB_PER_MIN = 1.0 if SOAK else 6.0
KEEP_RUNS = 100 if SOAK else 10
MAX_GAP_S = 1.5


async def test_back_to_back_runs_with_viewers_and_page_loads_do_not_grow_memory(tmp_path, figures):
    with Server('--speed', '100', '--tasks', '200', '--keep-runs', str(KEEP_RUNS), log_dir=tmp_path) as server:
        base = server.base
        stop = asyncio.Event()
        viewers = [Viewer(base.replace('http', 'ws') + path) for path in ('/ws', '/ws', '/ws?mode=changes')]
        runs: list[int] = []
        pages: list[float] = []
        samples: list[tuple[float, float]] = []
        fds: list[int] = []
        tasks = [asyncio.create_task(viewer.watch(stop)) for viewer in viewers]
        tasks += [asyncio.create_task(_run_back_to_back(base, stop, runs)),
                  asyncio.create_task(_load_pages(base, stop, pages))]
        rss_start = rss_mb(server)
        await asyncio.sleep(WARM_S)
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < DURATION_S:
            samples.append((elapsed, rss_mb(server)))
            fds.append(open_fds(server))
            await asyncio.sleep(SAMPLE_EVERY_S)
        samples.append((time.monotonic() - started, rss_mb(server)))
        stop.set()
        await asyncio.gather(*tasks)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            last = (await http.get('/status')).json()
            history = (await http.get('/runs', params={'limit': 1000})).json()
        check_status(last)

    second_half = [sample for sample in samples if sample[0] >= DURATION_S / 2]
    slope = slope_per_min(second_half)
    gaps = [viewer.max_gap for viewer in viewers]
    data = tmp_path / 'data'
    figures(warm_up_s=WARM_S, duration_s=round(samples[-1][0]), sample_every_s=SAMPLE_EVERY_S,
            runs_started=len(runs), page_loads=len(pages),
            page_load_ms_max=round(1000 * max(pages)), viewers=len(viewers),
            viewer_frames=[len(viewer.arrivals) for viewer in viewers], viewers_max_gap_s=round(max(gaps), 2),
            rss_mb_at_start=rss_start,
            rss_mb_first_last_max=(samples[0][1], samples[-1][1], max(value for _, value in samples)),
            rss_slope_mb_per_min_second_half=round(slope, 2), rss_samples=len(samples),
            rss_series_mb=[value for _, value in samples],
            fds_first_last_max=(fds[0], fds[-1], max(fds)), runs_in_history=len(history),
            stored_runs_left_running=sum(run['state'] == 'running' for run in history[1:]),
            data_dir_mb=round(sum(p.stat().st_size for p in data.iterdir()) / 2**20, 1))

    assert len(runs) >= (WARM_S + DURATION_S) / 3, f'only {len(runs)} runs'
    # pruned after each run: KEEP_RUNS and the current one
    assert len(history) <= KEEP_RUNS + 1, f'the history is not pruned: {len(history)} runs'
    assert slope < MAX_SLOPE_MB_PER_MIN, f'memory grows {slope:.2f} MB/min in the second half: {samples}'
    assert max(gaps) < MAX_GAP_S, gaps
    assert not [bad for viewer in viewers for bad in viewer.bad_frames]
    assert fds[-1] <= fds[0] + 4, f'file descriptors grow: {fds}'
    assert not problems(server), problems(server)[:10]


async def _run_back_to_back(base: str, stop: asyncio.Event, runs: list[int]) -> None:
    """Start a run; when it has ended, start the next one at once."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while not stop.is_set():
            response = await http.post('/start')
            assert response.status_code in {200, 409}, response.text
            if response.status_code == 200:
                runs.append(response.json()['run_id'])
            await asyncio.sleep(0.1)


async def _load_pages(base: str, stop: asyncio.Event, durations: list[float]) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        while not stop.is_set():
            started = time.monotonic()
            await visit(http, base, abrupt=len(durations) % 2 == 1)
            durations.append(time.monotonic() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PAGE_EVERY_S)
