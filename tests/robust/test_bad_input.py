"""Bad input, by hand, against the real server (`python main.py` in a subprocess): bodies too large, too deep, not
UTF-8, full of control characters; unknown paths, wrong methods, and WebSocket messages too large to hold.

Each is refused with a clear 4xx (or, for a WebSocket, the sender alone is dropped), never a 5xx or a traceback,
the run is left as it was, and the server goes on serving everyone else.
"""
from __future__ import annotations

import inspect
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from taskdemo.security import MAX_BODY_BYTES

from ..helpers import Server

JSON = {'Content-Type': 'application/json'}
STATUS_FIELDS = ('state', 'run_id', 'total', 'completed', 'failed', 'running', 'pending', 'settings')
WS_MAX_SIZE = inspect.signature(uvicorn.Config).parameters['ws_max_size'].default  # NiceGUI passes none of its own


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with Server('--speed', '1', log_dir=tmp_path_factory.mktemp('bad-input')) as running:
        yield running
    assert 'Traceback' not in running.log(), running.log()


@pytest.fixture
def idle(server: Server) -> Server:
    assert httpx.post(f'{server.base}/reset').status_code == 200
    return server


def test_a_body_over_64_kib_is_refused_with_413_and_the_server_keeps_serving(idle: Server, figures) -> None:
    before = status(idle)
    rss_before = rss_mb(idle)
    sizes = {'1 MB': 2**20, '10 MB': 10 * 2**20, 'limit + 1 byte': MAX_BODY_BYTES + 1}
    answers = {}
    for name, size in sizes.items():
        started = time.perf_counter()
        response = httpx.post(f'{idle.base}/start', content=b' ' * size, headers=JSON, timeout=30)
        answers[name] = (response.status_code, round((time.perf_counter() - started) * 1000, 1))
        assert_clear_error(response, 413)
        assert 'too large' in response.json()['detail']
    for _ in range(20):  # without a Content-Length: the limit counts the bytes as they come
        response = httpx.post(f'{idle.base}/start', content=chunks(2**20), headers=JSON, timeout=30)
        assert_clear_error(response, 413)
    answers['1 MB chunked x20'] = (response.status_code, None)
    assert status(idle) == before
    rss_after = rss_mb(idle)
    padded = json.dumps({'tasks': 3}).encode().ljust(MAX_BODY_BYTES)  # exactly at the limit: taken
    assert httpx.post(f'{idle.base}/start', content=padded, headers=JSON).status_code == 200
    figures(limit_bytes=MAX_BODY_BYTES, answers_code_ms=answers, rss_mb_before=rss_before, rss_mb_after=rss_after)
    assert rss_after - rss_before < 30, 'refused bodies should not be kept in memory'


def test_json_nested_10000_levels_deep_is_refused_cleanly(idle: Server, figures) -> None:
    before = status(idle)
    depth = 10_000
    bodies = {
        'arrays': '[' * depth + ']' * depth,
        'objects': '{"a":' * depth + '1' + '}' * depth,
        'in a field': '{"tasks": ' + '[' * depth + ']' * depth + '}',
    }
    codes = {}
    for name, body in bodies.items():
        response = httpx.post(f'{idle.base}/start', content=body, headers=JSON)
        codes[name] = response.status_code
        assert_clear_error(response, 400, 422)
    assert status(idle) == before
    figures(depth=depth, status_codes=codes)


CONTROL_CHARACTER_BODIES = [
    ('{"tasks": "\\u0663"}', 'tasks'),  # ARABIC-INDIC DIGIT THREE: a digit to int(), not to strict JSON
    ('{"tasks": "\\u00003"}', 'tasks'),
    ('{"tasks\\u0000": 3}', 'tasks'),
    ('{"seed": "\\ud800"}', 'seed'),  # a lone surrogate: valid JSON, no UTF-8 for it
    ('{"\\ud800": 1}', None),
    ('{"\\udfff\\ud800": 1, "tasks": 3}', None),
    ('{"bogus\\u001b[2J\\u0007": 1}', 'bogus'),
    ('{"\\u202eksat": 1}', 'ksat'),  # RIGHT-TO-LEFT OVERRIDE
    ('{"🙂": 1}', '🙂'),
    ('{"failure_rate": "0.5\\u0000"}', 'failure_rate'),
    ('{"speed": 1e999999}', 'speed'),
]


def test_unicode_and_control_characters_are_refused_with_a_readable_detail(idle: Server, figures) -> None:
    before = status(idle)
    codes = {}
    for body, field in CONTROL_CHARACTER_BODIES:
        response = httpx.post(f'{idle.base}/start', content=body.encode('utf-8', 'surrogatepass'), headers=JSON)
        codes[body] = response.status_code
        assert_clear_error(response, 400, 422)
        response.content.decode('utf-8')  # the answer itself is valid UTF-8
        if field is not None:
            assert field in response.json()['detail'], (body, response.text)
    assert status(idle) == before
    figures(bodies=len(CONTROL_CHARACTER_BODIES), status_codes=sorted(set(codes.values())))


def test_bytes_that_are_not_utf8_are_refused_cleanly(idle: Server, figures) -> None:
    before = status(idle)
    answers = {}
    for name, body in {'a value': b'{"tasks": "\xff\xfe"}', 'a key': b'{"\xc3\x28": 1}', 'all': b'\xff' * 100}.items():
        response = httpx.post(f'{idle.base}/start', content=body, headers=JSON)
        answers[f'body: {name}'] = response.status_code
        assert_clear_error(response, 400, 422)
    for path, code in {'/%ff%fe': 404, '/runs?limit=%ff': 422, '/runs/%c3%28': 422, '/status?x=%ff': 200,
                       'POST /tasks/%c3%28/cancel': 422, 'POST /tasks/%ff/retry': 422}.items():
        method, _, path = path.rpartition(' ')
        response = httpx.request(method or 'GET', f'{idle.base}{path}')
        answers[path] = response.status_code
        assert response.status_code == code, (path, response.text)
        if code >= 400:
            assert_clear_error(response, code)
    # bytes no client library will send: straight onto the socket
    raw_line = raw_request(idle, b'GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n')
    raw_header = raw_request(idle, b'POST /reset HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n'
                                   b'Content-Length: 0\r\n\r\n')
    answers['raw request line'], answers['raw header'] = raw_line[9:12].decode(), raw_header[9:12].decode()
    assert raw_line.startswith(b'HTTP/1.1 400'), raw_line  # uvicorn refuses the request line itself
    assert raw_header.startswith(b'HTTP/1.1 200'), raw_header  # no token is set, so any header will do
    assert b'Traceback' not in raw_line + raw_header
    assert status(idle) == before
    figures(answers=answers)


UNKNOWN = ['/nope', '/nope/deeper/still', '/index.html', '/admin', '/_nicegui/nope', '/static/../../etc/passwd',
           '/%2e%2e/%2e%2e/etc/passwd', '/ws/x', '/runs/1/export.xml', '/' + 'a' * 4000]


def test_unknown_paths_answer_a_small_json_404_not_a_page(idle: Server, figures) -> None:
    page = httpx.get(f'{idle.base}/')
    assert page.status_code == 200 and '<html' in page.text  # what building a page looks like
    largest = 0
    for path in UNKNOWN:
        for method in ('GET', 'POST'):
            response = httpx.request(method, f'{idle.base}{path}', headers={'Accept': 'text/html'})
            assert_clear_error(response, 404)
            assert '<html' not in response.text.lower()
            largest = max(largest, len(response.content))
    figures(paths=len(UNKNOWN), methods=2, page_bytes=len(page.content), largest_404_bytes=largest)
    assert largest < 512 + 4000  # the detail names the path, and nothing more


WRONG_METHODS = [('GET', '/start'), ('GET', '/reset'), ('GET', '/cancel'), ('PUT', '/start'), ('DELETE', '/reset'),
                 ('PUT', '/status'), ('DELETE', '/status'), ('PATCH', '/status'), ('POST', '/status'),
                 ('POST', '/runs'), ('DELETE', '/runs/1'), ('TRACE', '/status'), ('GET', '/tasks/1/cancel'),
                 ('PUT', '/tasks/1/retry'), ('DELETE', '/tasks/1/cancel')]


def test_wrong_methods_answer_405_with_the_allowed_one(idle: Server, figures) -> None:
    before = status(idle)
    for method, path in WRONG_METHODS:
        response = httpx.request(method, f'{idle.base}{path}')
        assert_clear_error(response, 405)
        assert response.headers['allow'] in {'GET', 'POST'}, (method, path, response.headers)
    assert status(idle) == before
    figures(requests=len(WRONG_METHODS))


def test_an_oversized_websocket_message_drops_that_sender_and_no_one_else(idle: Server, figures) -> None:
    url = idle.base.replace('http', 'ws') + '/ws'
    with connect(url, open_timeout=10, compression=None) as watcher:
        first_frame(watcher)
        with connect(url, open_timeout=10, compression=None, max_size=None) as sender:
            first_frame(sender)
            assert status(idle, 'streams') == 2
            started = time.monotonic()
            with pytest.raises(ConnectionClosed) as closed:
                sender.send('x' * (WS_MAX_SIZE + 2**20))
                while True:  # frames sent before the server read the message may still be on the way
                    sender.recv(timeout=10)
            dropped_after = time.monotonic() - started
        code = closed.value.rcvd.code if closed.value.rcvd else None
        frames = frames_within(watcher, seconds=2.0)  # the watcher keeps its cadence: a frame every 0.5 s
        assert status(idle, 'streams') == 1
    figures(ws_max_size_bytes=WS_MAX_SIZE, sent_bytes=WS_MAX_SIZE + 2**20, close_code=code,
            dropped_after_s=round(dropped_after, 2), watcher_frames_in_2_s_after=frames)
    assert code == 1009  # "message too big"
    assert frames >= 3


def test_what_a_websocket_client_sends_below_the_limit_is_read_and_ignored(idle: Server, figures) -> None:
    url = idle.base.replace('http', 'ws') + '/ws'
    with connect(url, open_timeout=10, compression=None) as client:
        first_frame(client)
        for _ in range(2000):
            client.send('{"start": true}')
        client.send(b'\x00' * 2**20)
        client.send('x' * 2**20)
        frames = frames_within(client, seconds=2.0)
        assert status(idle, 'streams') == 1
    assert status(idle)['state'] == 'idle'
    figures(small_messages=2000, large_messages_bytes=[2**20, 2**20], frames_in_2_s_after=frames)
    assert frames >= 3


def assert_clear_error(response: httpx.Response, *codes: int) -> None:
    assert response.status_code in codes, (response.status_code, response.text[:300])
    assert response.headers['content-type'].startswith('application/json'), response.headers
    detail = response.json()['detail']
    assert isinstance(detail, str) and detail.strip(), response.text
    assert not re.search(r'Traceback|File "|object at 0x', detail), detail


def status(server: Server, field: str | None = None):
    body = httpx.get(f'{server.base}/status').json()
    return body[field] if field else {name: body[name] for name in STATUS_FIELDS}


def first_frame(websocket: ClientConnection, timeout: float = 10) -> dict:
    frame = json.loads(websocket.recv(timeout=timeout))
    assert {'total', 'completed', 'failed', 'individual'} <= frame.keys()
    return frame


def frames_within(websocket: ClientConnection, seconds: float) -> int:
    """How many frames arrive in the next `seconds`, once those already waiting are read."""
    with pytest.raises(TimeoutError):
        while True:
            websocket.recv(timeout=0.05)
    count, deadline = 0, time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            first_frame(websocket, timeout=left)
        except TimeoutError:
            break
        count += 1
    return count


def chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    for _ in range(total // size):
        yield b' ' * size


def raw_request(server: Server, data: bytes) -> bytes:
    with socket.create_connection(('127.0.0.1', server.port), timeout=5) as connection:
        connection.sendall(data)
        return connection.recv(65536)


def rss_mb(server: Server) -> float:
    text = Path(f'/proc/{server.process.pid}/status').read_text()
    return round(int(re.search(r'VmRSS:\s+(\d+)', text).group(1)) / 1024, 1)
