"""The real thing: `python main.py` in a subprocess on 127.0.0.1, driven exactly as the seed's frontend drives it."""
from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from .helpers import Server

STATUSES = {'pending', 'in_progress', 'completed', 'failed', 'cancelled'}


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with Server('--speed', '100', log_dir=tmp_path_factory.mktemp('server')) as running:
        yield running.base
    assert 'Traceback' not in running.log(), running.log()


def check_frame(frame: dict) -> None:
    assert isinstance(frame['total'], int) and isinstance(frame['completed'], int)
    assert isinstance(frame['failed'], int)
    assert list(frame['individual']) == [str(i) for i in range(frame['total'])]
    for entry in frame['individual'].values():
        assert entry['status'] in STATUSES
        assert isinstance(entry['progress'], int) and 0 <= entry['progress'] <= 100
        assert ('error' in entry) == (entry['status'] == 'failed')
        assert entry.get('stalled', True) is True and ('stalled' not in entry or entry['status'] == 'in_progress')
    assert frame['completed'] == sum(e['status'] == 'completed' for e in frame['individual'].values())
    assert frame['failed'] == sum(e['status'] == 'failed' for e in frame['individual'].values())


def test_a_whole_run_driven_as_the_seed_frontend_does(server):
    ws_url = server.replace('http', 'ws') + '/ws'
    assert httpx.post(f'{server}/reset').json() == {'message': 'Tasks reset'}
    assert httpx.post(f'{server}/start').json()['message'] == '50 tasks started'
    frames = []
    with connect(ws_url, open_timeout=10) as websocket:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            frame = json.loads(websocket.recv(timeout=5))
            check_frame(frame)
            frames.append(frame)
            if frame['completed'] + frame['failed'] == frame['total']:
                break
    last = frames[-1]
    assert last['completed'] + last['failed'] == last['total'] == 50
    assert len(frames) >= 2, 'at speed 100 the tasks take 0.3-1.2 s: several frames at 2 per second'
    finished = [f['completed'] + f['failed'] for f in frames]
    assert finished == sorted(finished)
    status = httpx.get(f'{server}/status').json()
    assert status['state'] == 'completed' and status['completed'] == last['completed']


def test_the_stream_sends_a_frame_at_once_and_then_twice_a_second(server):
    with connect(server.replace('http', 'ws') + '/ws', open_timeout=10) as websocket:
        started = time.monotonic()
        check_frame(json.loads(websocket.recv(timeout=5)))
        first = time.monotonic() - started
        for _ in range(3):
            check_frame(json.loads(websocket.recv(timeout=5)))
        cadence = (time.monotonic() - started - first) / 3
    assert first < 0.5 and 0.3 < cadence < 0.8, (first, cadence)


def test_unknown_paths_are_404_and_the_board_is_only_at_the_root(server):
    response = httpx.get(f'{server}/robots.txt')
    assert response.status_code == 404 and 'Task Processing Simulator' not in response.text
    assert httpx.get(f'{server}/no/such/page').status_code == 404
    board = httpx.get(f'{server}/')
    assert board.status_code == 200 and 'Task Processing Simulator' in board.text


def test_cors_allows_the_seed_frontend_and_no_other_origin(server):
    preflight = {'Access-Control-Request-Method': 'POST'}
    allowed = httpx.options(f'{server}/start', headers={'Origin': 'http://localhost:3000', **preflight})
    assert allowed.headers.get('access-control-allow-origin') == 'http://localhost:3000'
    denied = httpx.options(f'{server}/start', headers={'Origin': 'http://elsewhere.test', **preflight})
    assert 'access-control-allow-origin' not in denied.headers
    plain = httpx.get(f'{server}/status', headers={'Origin': 'http://elsewhere.test'})
    assert 'access-control-allow-origin' not in plain.headers


def test_the_api_is_described_at_docs(server):
    assert httpx.get(f'{server}/docs').status_code == 200
    schema = httpx.get(f'{server}/openapi.json').json()
    assert {'/start', '/reset', '/cancel', '/status', '/tasks/{task_id}/cancel', '/tasks/{task_id}/retry'} <= set(
        schema['paths'])
    assert '"stalled": true' in schema['info']['description']
    assert 'requestBody' in schema['paths']['/start']['post']
    assert '/ws' in schema['info']['description']


def test_hangs_time_limits_and_one_task_control_on_the_real_server(tmp_path):
    """Every task hangs (half for good) and the time limit is 90 simulated seconds, 0.9 s at speed 100: the stream
    flags stalled tasks, the run still ends, and a timed-out task goes again, then is cancelled, on its own."""
    with Server('--speed', '100', '--tasks', '20', '--failure-rate', '0', '--stall-rate', '1', '--task-timeout', '90',
                log_dir=tmp_path) as running:
        base = running.base
        assert httpx.post(f'{base}/start').json()['settings']['task_timeout'] == 90
        stalled_seen, statuses = 0, []
        with connect(base.replace('http', 'ws') + '/ws', open_timeout=10) as websocket:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                frame = json.loads(websocket.recv(timeout=5))
                check_frame(frame)
                stalled_seen += sum('stalled' in entry for entry in frame['individual'].values())
                statuses.append(httpx.get(f'{base}/status').json())
                if frame['completed'] + frame['failed'] == frame['total']:
                    break
        end = httpx.get(f'{base}/status').json()
        timed_out = [int(key) for key, entry in end['individual'].items()
                     if entry.get('error') == 'timed out after 90 s']
        retried = httpx.post(f'{base}/tasks/{timed_out[0]}/retry')
        cancelled = httpx.post(f'{base}/tasks/{timed_out[0]}/cancel')
        after = httpx.get(f'{base}/status').json()
    assert 'Traceback' not in running.log(), running.log()
    assert stalled_seen > 0 and any(status['stalled'] for status in statuses)
    for status in statuses:
        flagged = [int(key) for key, entry in status['individual'].items() if 'stalled' in entry]
        assert sorted(task['id'] for task in status['stalled_tasks']) == flagged and status['stalled'] == len(flagged)
    assert end['state'] == 'completed' and end['failed'] == len(timed_out) > 0 and end['stalled_tasks'] == []
    assert retried.status_code == 200 and retried.json()['attempt'] == 2
    assert cancelled.status_code == 200 and cancelled.json()['status'] == 'cancelled'
    assert after['individual'][str(timed_out[0])]['status'] == 'cancelled' and after['state'] == 'completed'
    assert {key: entry for key, entry in after['individual'].items() if key != str(timed_out[0])} == {
        key: entry for key, entry in end['individual'].items() if key != str(timed_out[0])}


def rss_kb(pid: int) -> int:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    raise AssertionError('no VmRSS')


def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_their_cadence(tmp_path):
    with Server('--tasks', '10000', '--speed', '5', log_dir=tmp_path) as running:
        httpx.post(f'{running.base}/start')
        rss_before = rss_kb(running.process.pid)
        stuck = socket.create_connection(('127.0.0.1', running.port))
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(b'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                      b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
        gaps = []
        with connect(running.base.replace('http', 'ws') + '/ws', open_timeout=10, max_size=None) as reader:
            reader.recv(timeout=5)
            last = time.monotonic()
            for _ in range(26):  # 13 s: kernel buffers take ~10 frames, then the stuck client's queue overflows
                check_frame(json.loads(reader.recv(timeout=5)))
                now = time.monotonic()
                gaps.append(now - last)
                last = now
            streams_while_reading = httpx.get(f'{running.base}/status').json()['streams']
        rss_after = rss_kb(running.process.pid)
        stuck.close()
    print(f'\nreader gaps: max {max(gaps):.2f} s; server RSS {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MB')
    assert streams_while_reading == 1, 'the stuck client was dropped while the reader went on'
    assert max(gaps) < 1.0, gaps
    assert rss_after - rss_before < 100 * 1024, 'the stuck client cost bounded memory'
