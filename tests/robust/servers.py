"""What the abuse tests share: a real server's memory and sockets read from /proc, a strict check of /status, /ws
viewers that time their frames, and real NiceGUI page visits (GET / and then the page's own socket.io
connection, made the way nicegui.js makes it)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import socketio
from websockets.asyncio.client import connect

from taskdemo.model import RunState, TaskStatus

from ..helpers import Server

SOAK = os.environ.get('TASKDEMO_SOAK') == '1'  # the long versions: 10-minute soak and the full counts everywhere
RECONNECT_TIMEOUT_S = 3.0  # ui.run's default, which taskdemo keeps: a page's client outlives its socket this long
SOCKET_PATH = '/_nicegui_ws/socket.io'
PROBLEM_LINE = re.compile(r'Traceback|\bERROR\b|\bCRITICAL\b')
COUNTERS = {TaskStatus.COMPLETED: 'completed', TaskStatus.FAILED: 'failed', TaskStatus.RUNNING: 'running',
            TaskStatus.PENDING: 'pending', TaskStatus.CANCELLED: 'cancelled', TaskStatus.INTERRUPTED: 'interrupted'}


# ---- the server from outside ------------------------------------------------------------------------------------

def rss_mb(server: Server) -> float:
    """Resident memory of the server process (VmRSS), in MB."""
    assert server.process is not None
    for line in Path(f'/proc/{server.process.pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return round(int(line.split()[1]) / 1024, 1)
    raise AssertionError('no VmRSS line')


def cpu_s(server: Server) -> float:
    """CPU seconds the server process has used so far (user + system, from /proc/<pid>/stat)."""
    assert server.process is not None
    fields = Path(f'/proc/{server.process.pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def open_fds(server: Server) -> int:
    """File descriptors the server holds: every open connection is one."""
    assert server.process is not None
    return len(os.listdir(f'/proc/{server.process.pid}/fd'))


def problems(server: Server) -> list[str]:
    """Lines of the server's log that speak of an error or a traceback."""
    return [line for line in server.log().splitlines() if PROBLEM_LINE.search(line)]


def wait_until(condition: Callable[[], Any], *, timeout: float, every: float = 0.1, what: str = 'condition') -> Any:
    """Poll a real server until `condition()` is truthy; returns it. There is no event to wait on from outside."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f'{what}: not within {timeout} s'
        time.sleep(every)
    return result


async def until(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """`wait_until` for what this test's own event loop brings (a Viewer's frames): it yields to the loop while it
    polls."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f'{what}: not within {timeout} s'
        await asyncio.sleep(0.02)
    return result


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """The least-squares slope of (seconds, value) samples, per minute."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread if spread else 0.0


# ---- what a consistent state is --------------------------------------------------------------------------------

def parse_strict(text: str) -> dict[str, Any]:
    """JSON that may not name a key twice (json.loads would silently keep the last of two equal task ids)."""
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f'duplicate keys: {sorted(k for k in keys if keys.count(k) > 1)[:5]}'
        return dict(pairs)
    return json.loads(text, object_pairs_hook=no_duplicates)


def check_frame(frame: dict[str, Any]) -> dict[str, int]:
    """A full /ws frame is one moment: ids 0..N-1 once each, valid entries, counters that match them."""
    total, individual = frame['total'], frame['individual']
    assert list(individual) == [str(i) for i in range(total)], 'task ids are not exactly 0..N-1'
    counts = dict.fromkeys(COUNTERS.values(), 0)
    for key, entry in individual.items():
        status = TaskStatus(entry['status'])
        assert isinstance(entry['progress'], int) and 0 <= entry['progress'] <= 100, (key, entry)
        assert ('error' in entry) == (status == TaskStatus.FAILED), (key, entry)
        counts[COUNTERS[status]] += 1
    assert (frame['completed'], frame['failed']) == (counts['completed'], counts['failed']), 'counters'
    return counts


def check_status(status: dict[str, Any]) -> None:
    """GET /status shows one consistent state: the frame, every counter, and a run state that fits them."""
    counts = check_frame(status)
    for name, count in counts.items():
        assert status[name] == count, f'{name}: {status[name]} in /status, {count} in individual'
    assert sum(counts.values()) == status['total']
    state = RunState(status['state'])
    ended = counts['completed'] + counts['failed'] + counts['cancelled']
    assert abs(status['progress'] - 100 * ended / status['total']) <= 0.1, 'progress'
    if state == RunState.IDLE:
        assert status['run_id'] is None and counts['pending'] == status['total'], 'idle: every task pending'
    elif state == RunState.RUNNING:
        assert counts['running'] + counts['pending'] > 0 and counts['cancelled'] == counts['interrupted'] == 0
    elif state == RunState.COMPLETED:
        assert counts['completed'] + counts['failed'] == status['total'], 'completed: every task ended'
    elif state == RunState.CANCELLED:
        assert counts['running'] == counts['pending'] == 0 < counts['cancelled'], 'cancelled: nothing left to run'
    else:
        assert counts['running'] == 0, 'interrupted: nothing runs'
    assert state == RunState.IDLE or status['run_id'] is not None


def stored_tasks(base: str, run_id: int) -> dict[str, dict[str, Any]]:
    """GET /runs/{id}, as the /status `individual` shape: id -> status, progress (and error)."""
    run = httpx.get(f'{base}/runs/{run_id}', timeout=10).json()
    return {str(task['id']): {'status': task['status'], 'progress': task['progress'],
                              **({'error': task['error']} if task['error'] is not None else {})}
            for task in run['tasks']}


def wait_for_disk(base: str, status: dict[str, Any], *, timeout: float = 3.0) -> dict[str, dict[str, Any]]:
    """The run of `status` as stored, once the store has caught up with it (the promise: within 0.5 s)."""
    deadline = time.monotonic() + timeout
    while (stored := stored_tasks(base, status['run_id'])) != status['individual']:
        if time.monotonic() > deadline:
            return stored
        time.sleep(0.1)  # polling a real server
    return stored


# ---- /ws viewers ---------------------------------------------------------------------------------------------------

@dataclass
class Viewer:
    """A /ws client that reads every frame and notes when it came; `deep` checks every entry of every frame."""

    url: str
    deep: bool = True
    arrivals: list[float] = field(default_factory=list)
    bad_frames: list[str] = field(default_factory=list)
    received_bytes: int = 0

    async def watch(self, stop: asyncio.Event) -> None:
        async with connect(self.url, open_timeout=10, max_size=None, close_timeout=2) as websocket:
            while not stop.is_set():
                reading = asyncio.ensure_future(websocket.recv())
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if not reading.done():
                    reading.cancel()
                    return
                self.arrivals.append(time.monotonic())
                self.received_bytes += len(reading.result())
                self._check(reading.result())

    def _check(self, text: str) -> None:
        try:
            if not self.deep:  # big frames, many readers: the reader must keep up with the server, so check less
                assert text.startswith('{"total":') and text.endswith('}'), text[:80]
                return
            frame = parse_strict(text)
            if 'mode' not in frame:
                check_frame(frame)
            else:
                assert isinstance(frame['total'], int) and isinstance(frame['individual'], dict)
        except (AssertionError, KeyError, ValueError) as error:
            self.bad_frames.append(f'{type(error).__name__}: {error}')

    @property
    def max_gap(self) -> float:
        return max((b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)), default=float('inf'))


async def loop_lag(stop: asyncio.Event, *, every: float = 0.05) -> float:
    """The test's own event loop: the largest delay of a short sleep. A reader's gap that this explains is ours,
    not the server's."""
    worst = 0.0
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.sleep(every)
        worst = max(worst, time.monotonic() - started - every)
    return worst


# ---- NiceGUI pages ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Page:
    """One browser tab's identity as the server knows it: the client the page was built for, and the document and
    tab ids that nicegui.js makes up and sends with every (re)connection."""

    client_id: str
    document_id: str
    tab_id: str
    next_message_id: str = '0'

    def query(self) -> str:
        return (f'client_id={self.client_id}&next_message_id={self.next_message_id}&implicit_handshake=true'
                f'&document_id={self.document_id}&tab_id={self.tab_id}&old_tab_id=')


async def load_page(http: httpx.AsyncClient, base: str) -> Page:
    """GET / as a browser does: the page carries the id of the client the server built for it."""
    response = await http.get(f'{base}/')
    assert response.status_code == 200, response.status_code
    client_id = re.search(r"'client_id': '([0-9a-f-]+)'", response.text)
    next_id = re.search(r"'next_message_id': (\d+)", response.text)
    assert client_id and next_id, 'the page did not carry its socket.io query'
    return Page(client_id[1], str(uuid.uuid4()), str(uuid.uuid4()), next_id[1])


async def visit(http: httpx.AsyncClient, base: str, *, abrupt: bool) -> Page:
    """Load the page, connect its socket.io socket as nicegui.js does, then go: a clean socket.io disconnect (a tab
    closed), or `abrupt`: the TCP connection cut with no goodbye at all (a browser killed, a laptop lid shut)."""
    page = await load_page(http, base)
    if abrupt:
        websocket, accepted = await _engineio_connect(base, page)
        if not accepted:
            await websocket.close()
            raise AssertionError('the server refused the page its own socket')
        websocket.transport.abort()
        return page
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(f'{base}/?{page.query()}', socketio_path=SOCKET_PATH, transports=['websocket'],
                             wait_timeout=10)
    finally:
        await client.disconnect()
    return page


async def page_alive(base: str, page: Page) -> bool:
    """Does the server still hold this page's client? Asked as the page's own socket.io reconnection (same client,
    document and tab ids): the server accepts it while the client lives and refuses it once the client is deleted."""
    websocket, accepted = await _engineio_connect(base, page)
    with contextlib.suppress(Exception):
        if accepted:
            await websocket.send('41')  # socket.io: leave the namespace
        await websocket.close()
    return accepted


async def _engineio_connect(base: str, page: Page) -> tuple[Any, bool]:
    """The socket.io handshake by hand (engine.io v4 over a WebSocket), so that a test can also cut it short."""
    url = f'{base.replace("http", "ws", 1)}{SOCKET_PATH}/?{page.query()}&EIO=4&transport=websocket'
    websocket = await connect(url, open_timeout=10, close_timeout=2)
    opened = await asyncio.wait_for(websocket.recv(), 10)
    assert str(opened).startswith('0'), opened  # engine.io open packet
    await websocket.send('40')  # socket.io connect to the namespace "/": the implicit handshake
    while (reply := str(await asyncio.wait_for(websocket.recv(), 10))).startswith('2'):
        await websocket.send('3')  # an engine.io ping before the answer: pong
    return websocket, reply.startswith('40')  # 40: connected; 44: refused (no such client)
