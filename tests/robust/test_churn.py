"""Churn during a run: 500 real page loads that connect their socket.io socket and go (half closed cleanly, half cut
off), and 1,000 /ws connections that come and go, against one server. Afterwards no page client is left on the
server, no stream, no socket, and memory is back near where it was; a viewer that stayed kept its cadence.

Nothing is exposed for this: the server is measured from outside. A page client's presence is asked the way its
own socket.io reconnection would (the server accepts it while the client lives, refuses it once deleted), /ws
listeners are the `streams` of /status, sockets are the server's open file descriptors, memory is VmRSS."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import socketio
from websockets.asyncio.client import connect

from ..helpers import Server
from .servers import (
    RECONNECT_TIMEOUT_S,
    SOAK,
    SOCKET_PATH,
    Page,
    Viewer,
    cpu_s,
    load_page,
    open_fds,
    page_alive,
    problems,
    rss_mb,
    visit,
)

PAGES, STREAMS = 500, 1000
# Memory is compared with a warm server: the first few hundred pages grow NiceGUI's caches and the allocator's
# arenas for good (measured: 80 MB at start, ~130 MB after 300-500 pages; after that RSS moves in steps of up to
# ~10 MB that it keeps, with the server's CPU per round unchanged). The long version warms up with a full round.
WARM_PAGES, WARM_STREAMS = (PAGES, STREAMS) if SOAK else (300, 200)
PAGE_WORKERS, STREAM_WORKERS = 8, 4
RSS_MARGIN = 0.10
ROUNDS = 3 if SOAK else 1
STALL_S = 3.0  # the viewer that stays: no frame later than this (the cadence is 0.5 s; pages are built on the loop)


async def test_pages_and_streams_that_come_and_go_leave_nothing_behind(tmp_path, figures):
    with Server('--speed', '2', '--tasks', '50', '--seed', '4', log_dir=tmp_path) as server:
        base = server.base
        stop = asyncio.Event()
        viewer = Viewer(base.replace('http', 'ws') + '/ws')
        background = [asyncio.create_task(viewer.watch(stop)), asyncio.create_task(_keep_a_run_going(base, stop))]
        async with httpx.AsyncClient() as http:
            kept = await load_page(http, base)
        staying = socketio.AsyncClient(reconnection=False)  # one tab stays open throughout: the probe's control
        await staying.connect(f'{base}/?{kept.query()}', socketio_path=SOCKET_PATH, transports=['websocket'])
        rss_start = rss_mb(server)
        rounds: list[dict] = []
        try:
            await _churn(base, WARM_PAGES, WARM_STREAMS)
            await _settle(server)
            rss_base, fds_before = rss_mb(server), open_fds(server)
            streams_before = await _streams(base)
            for _ in range(ROUNDS):
                rounds.append(await _measured_round(server, fds_before))
            kept_alive = await page_alive(base, kept)
        finally:
            await staying.disconnect()
            stop.set()
            await asyncio.gather(*background)
        last = rounds[-1]
        figures(rounds=len(rounds), pages_per_round=PAGES, pages_cut_off=PAGES // 2, streams_per_round=STREAMS,
                streams_cut_off=STREAMS // 2, warm_up=f'{WARM_PAGES} pages, {WARM_STREAMS} streams',
                rss_mb_at_start=rss_start, rss_mb_baseline=rss_base, streams_before=streams_before,
                fds_before=fds_before, **{key: [r[key] for r in rounds] for key in rounds[0]},
                rss_change_pct=round(100 * (last['rss_mb_after'] - rss_base) / rss_base, 1),
                kept_page_still_there=kept_alive, viewer_frames=len(viewer.arrivals),
                viewer_max_gap_s=round(viewer.max_gap, 2), measured='clients: socket.io reconnection probe per page; '
                'streams: /status; sockets: /proc fd count; memory: VmRSS, baseline after a warm-up churn')

        assert kept_alive, 'the probe must see a page that is still open (else it proves nothing)'
        for measured in rounds:
            assert measured['page_clients_left'] == 0, f'page clients outlived their socket: {measured}'
            assert measured['streams_after'] == streams_before == 1, 'only the viewer that stayed still streams'
            assert measured['fds_after'] <= fds_before, f'sockets left open: {fds_before} -> {measured}'
            assert measured['rss_mb_after'] <= rss_base * (1 + RSS_MARGIN), f'RSS {rss_base} MB -> {measured}'
        assert not viewer.bad_frames and viewer.max_gap < STALL_S, (viewer.bad_frames[:3], viewer.max_gap)
        assert not problems(server), problems(server)[:10]


async def _measured_round(server: Server, fds_before: int) -> dict:
    started, cpu_before = time.monotonic(), cpu_s(server)
    pages, visits_s = await _churn(server.base, PAGES, STREAMS)
    churn_s, churn_cpu_s = time.monotonic() - started, cpu_s(server) - cpu_before
    rss_peak = rss_mb(server)
    settle_s = await _settle(server, fds_before)
    rss_after, fds_after = rss_mb(server), open_fds(server)
    return {'churn_s': round(churn_s, 1), 'server_cpu_s': round(churn_cpu_s, 1),
            'page_visit_ms_p50': round(1000 * sorted(visits_s)[len(visits_s) // 2]),
            'page_visit_ms_max': round(1000 * max(visits_s)), 'rss_mb_peak': rss_peak, 'rss_mb_after': rss_after,
            'settle_s': round(settle_s, 1), 'fds_after': fds_after, 'streams_after': await _streams(server.base),
            'page_clients_left': await _count_alive(server.base, pages)}


async def _churn(base: str, pages: int, streams: int) -> tuple[list[Page], list[float]]:
    """`pages` page visits and `streams` /ws connections at the same time; half of each cut off, not closed."""
    visited: list[Page] = []
    durations: list[float] = []
    ws_url = base.replace('http', 'ws') + '/ws'
    async with httpx.AsyncClient(timeout=30) as http:
        async def one_page(number: int) -> None:
            started = time.monotonic()
            visited.append(await visit(http, base, abrupt=number % 2 == 1))
            durations.append(time.monotonic() - started)

        async def one_stream(number: int) -> None:
            websocket = await connect(ws_url, open_timeout=10, max_size=None, close_timeout=2)
            assert (await asyncio.wait_for(websocket.recv(), 10)).startswith('{')  # served: its first frame
            if number % 2:
                websocket.transport.abort()
            else:
                await websocket.close()

        await asyncio.gather(_in_workers(one_page, pages, PAGE_WORKERS), _in_workers(one_stream, streams,
                                                                                        STREAM_WORKERS))
    return visited, durations


async def _in_workers(job: Callable[[int], Awaitable[None]], count: int, workers: int) -> None:
    numbers = iter(range(count))

    async def worker() -> None:
        for number in numbers:
            await job(number)
    await asyncio.gather(*(worker() for _ in range(workers)))


async def _settle(server: Server, fds_before: int | None = None) -> float:
    """Wait until the server has closed every churned socket, then for NiceGUI's reconnect timeout to run out."""
    started = time.monotonic()
    deadline = started + 30
    while fds_before is not None and open_fds(server) > fds_before and time.monotonic() < deadline:
        await asyncio.sleep(0.2)  # polling a real server's open sockets in /proc: there is no event to wait on
    await asyncio.sleep(RECONNECT_TIMEOUT_S + 1.5)  # deleted 3 s after the last socket went; 1.5 s to spare
    return time.monotonic() - started


async def _count_alive(base: str, pages: list[Page]) -> int:
    gate = asyncio.Semaphore(16)

    async def probe(page: Page) -> bool:
        async with gate:
            return await page_alive(base, page)
    return sum(await asyncio.gather(*(probe(page) for page in pages)))


async def _streams(base: str) -> int:
    async with httpx.AsyncClient() as http:
        return (await http.get(f'{base}/status')).json()['streams']


async def _keep_a_run_going(base: str, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient() as http:
        while not stop.is_set():
            if (await http.get(f'{base}/status')).json()['state'] != 'running':
                await http.post(f'{base}/start')
            await asyncio.sleep(1.0)
