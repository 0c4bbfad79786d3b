"""Protocol-level viewers: K WebSocket clients in one asyncio loop, and a viewer that never reads."""
from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect

from taskdemo import protocol

CONNECT_TIMEOUT_S = 60.0
MAX_FRAME = 64 * 1024 * 1024


@dataclass
class Viewer:
    index: int
    keep_frames: bool  # only one viewer keeps its frames, for freshness
    connected_at: float = 0.0
    first_frame_s: float | None = None  # connect start to first frame
    extensions: str = ''
    frames: list[tuple[float, int]] = field(default_factory=list)  # (wall time received, characters)
    kept: list[tuple[float, str]] = field(default_factory=list)
    last: str = ''
    last_at: float = 0.0
    error: str = ''


async def run_viewer(url: str, viewer: Viewer, ready: asyncio.Event, stop: asyncio.Event) -> None:
    began = time.time()
    try:
        async with connect(url, max_size=MAX_FRAME, open_timeout=CONNECT_TIMEOUT_S, ping_interval=None,
                           close_timeout=2) as ws:
            viewer.extensions = ws.response.headers.get('Sec-WebSocket-Extensions', '')
            first = await asyncio.wait_for(ws.recv(), CONNECT_TIMEOUT_S)
            viewer.first_frame_s = time.time() - began
            _record(viewer, first)
            ready.set()
            while not stop.is_set():
                recv = asyncio.ensure_future(ws.recv())
                stopped = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({recv, stopped}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                if recv in done:
                    _record(viewer, recv.result())
                else:
                    recv.cancel()
    except Exception as error:  # noqa: BLE001 (a viewer that fails is a result, not a crash of the benchmark)
        viewer.error = f'{type(error).__name__}: {error}'[:200]
        ready.set()


def _record(viewer: Viewer, text: str) -> None:
    now = time.time()
    viewer.frames.append((now, len(text)))
    viewer.last, viewer.last_at = text, now
    if viewer.keep_frames:
        viewer.kept.append((now, text))


def frame_samples(kept: list[tuple[float, str]], begin: float, end: float) -> list[tuple[float, int, int]]:
    """(time received, task, percent) for every running task whose percent changed from the frame before."""
    shown: dict[str, int] = {}
    samples = []
    for index, (received, text) in enumerate(kept):
        entries: dict[str, dict] = {}
        protocol.apply_changes(entries, json.loads(text))
        for task, entry in entries.items():
            if entry['status'] != 'in_progress':
                shown.pop(task, None)
                continue
            pct = entry['progress']
            if index > 0 and shown.get(task) != pct and begin <= received <= end:
                samples.append((received, int(task), pct))
            shown[task] = pct
    return samples


def finished_count(text: str) -> int:
    frame = json.loads(text)
    return frame['completed'] + frame['failed']


def frame_stats(viewer: Viewer, begin: float, end: float) -> dict[str, float | int]:
    times = [t for t, _ in viewer.frames if begin <= t <= end]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    return {'frames': len(times), 'max_gap_s': round(max(gaps), 3) if gaps else None}


class SlowViewer:
    """A `/ws` client that does the handshake and then never reads, with a small receive buffer."""

    def __init__(self, port: int, *, receive_buffer: int = 4096) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect(('127.0.0.1', port))
        self.sock.sendall((f'GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n'
                           'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                           'Sec-WebSocket-Version: 13\r\n\r\n').encode())
        head = b''
        while b'\r\n\r\n' not in head and len(head) < 4096:
            head += self.sock.recv(1)  # byte by byte: read the answer's head and not one byte of the frames
        self.status_line = head.split(b'\r\n', 1)[0].decode(errors='replace')
        self.port = self.sock.getsockname()[1]

    def closed_by_server(self, seconds: float) -> bool | None:
        """Read what is queued for up to `seconds`: True when the server had given up on this viewer (the end of
        the stream comes once what it had queued is read), None when it is still streaming."""
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(1 << 20):
                    return True
            except TimeoutError:
                continue
            except OSError:
                return True
        return None

    def close(self) -> None:
        self.sock.close()
