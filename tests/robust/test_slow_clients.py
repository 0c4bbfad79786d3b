"""A /ws client that stops reading, among ten that read: it is dropped once its bounded queue is full, the ten keep
the 0.5 s cadence the whole time, and the server's memory stays bounded.

tests/test_server.py already shows, with one reader, that a stuck client is dropped; this adds what it does not
measure: ten readers at once, each one's largest gap, when the drop came, and the server's memory throughout."""
from __future__ import annotations

import asyncio
import socket
import time

import httpx

from ..helpers import Server
from .servers import SOAK, Viewer, loop_lag, open_fds, problems, rss_mb

READERS = 10
TASKS = '10000'  # ~450 KB frames: the kernel's buffers for the stuck client fill within seconds, not minutes
AFTER_DROP_S = 20.0 if SOAK else 4.0  # the readers go on this long after the drop
DROP_WITHIN_S = 30.0
WARM_S = 4.0
MAX_GAP_S = 1.5
RSS_GROWTH_MB = 64  # the frames are shared texts (one per broadcast, whatever the number of readers)


async def test_a_client_that_stops_reading_is_dropped_while_ten_others_keep_the_cadence(tmp_path, figures):
    with Server('--tasks', TASKS, '--speed', '5', log_dir=tmp_path) as server:
        base = server.base
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            await http.post('/start')
            stop = asyncio.Event()
            lag = asyncio.create_task(loop_lag(stop))
            # one reader checks every entry of every frame; the others only that a whole frame came (they must keep up)
            readers = [Viewer(base.replace('http', 'ws') + '/ws', deep=number == 0) for number in range(READERS)]
            watching = [asyncio.create_task(reader.watch(stop)) for reader in readers]
            while any(len(reader.arrivals) < 2 for reader in readers):
                await asyncio.sleep(0.1)
            rss_readers_joined = rss_mb(server)
            await asyncio.sleep(WARM_S)  # the ten readers alone first: what they cost is not the stuck client's
            rss_before, fds_before = rss_mb(server), open_fds(server)
            rss_samples = [rss_before]

            stuck = _stuck_client(server.port)
            stuck_at = time.monotonic()
            streams = [(await http.get('/status')).json()['streams']]
            while streams[-1] > READERS and time.monotonic() - stuck_at < DROP_WITHIN_S:
                for _ in range(4):  # /status of 10,000 tasks costs the server ~0.1 s: read it every 2 s only
                    await asyncio.sleep(0.5)
                    rss_samples.append(rss_mb(server))
                streams.append((await http.get('/status')).json()['streams'])
            dropped_after = time.monotonic() - stuck_at
            rss_at_drop = rss_samples[-1]
            until = time.monotonic() + AFTER_DROP_S
            while time.monotonic() < until:
                await asyncio.sleep(0.5)
                rss_samples.append(rss_mb(server))
            streams_after = (await http.get('/status')).json()['streams']
            fds_with_stuck = open_fds(server)
            stop.set()
            await asyncio.gather(*watching)
            test_loop_lag = await lag
        stuck.close()
        window = time.monotonic() - stuck_at
        gaps = [reader.max_gap for reader in readers]
        frames = [sum(arrival >= stuck_at for arrival in reader.arrivals) for reader in readers]
        frame_kb = round(readers[0].received_bytes / len(readers[0].arrivals) / 1024)
        figures(readers=READERS, tasks=int(TASKS), frame_kb=frame_kb, stuck_dropped_after_s=round(dropped_after, 1),
                drop_resolution_s=2.0, streams_seen=sorted(set(streams), reverse=True), streams_after=streams_after,
                window_s=round(window, 1), readers_frames_in_window_min_max=(min(frames), max(frames)),
                readers_max_gap_s=round(max(gaps), 2), test_loop_lag_max_s=round(test_loop_lag, 2),
                rss_mb_readers_joined=rss_readers_joined, rss_mb_before_stuck=rss_before,
                rss_mb_peak=max(rss_samples), rss_mb_at_drop=rss_at_drop, rss_mb_end=rss_samples[-1],
                fds_before_stuck_and_at_end=(fds_before, fds_with_stuck))

        assert streams[0] == READERS + 1, f'the stuck client was never listening: {streams}'
        assert streams[-1] == READERS, f'the stuck client was not dropped within {DROP_WITHIN_S} s: {streams}'
        assert streams_after == READERS, 'the readers are all still listening'
        assert max(gaps) < MAX_GAP_S, f'a reader waited {max(gaps):.2f} s for a frame'
        assert min(frames) >= 0.8 * window / 0.5, f'readers fell behind the 0.5 s cadence: {frames}'
        assert not [error for reader in readers for error in reader.bad_frames]
        assert max(rss_samples) - rss_before < RSS_GROWTH_MB, rss_samples
        assert rss_samples[-1] - rss_at_drop < 8, f'memory still grew after the drop: {rss_samples}'
        assert not problems(server), problems(server)[:10]


def _stuck_client(port: int) -> socket.socket:
    """A /ws client with a tiny receive buffer that reads the upgrade answer and then never reads again."""
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: it sets the window offered
    stuck.connect(('127.0.0.1', port))
    stuck.sendall(b'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                  b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    answer = b''
    while b'\r\n\r\n' not in answer:
        answer += stuck.recv(1)  # byte by byte: not a byte of the first frame is read
    assert answer.startswith(b'HTTP/1.1 101'), answer
    return stuck
