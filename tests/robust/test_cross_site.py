"""Cross-site requests (issue #12): any page the user opens can make the browser POST to the board, and CORS hides
only the answer, not the effect. So every route that changes something answers 403, and changes nothing, when the
request says it comes from a page of another origin; the board's own origin, an allowed --cors-origin and requests
that say nothing (curl, scripts) go on. In-process for the rule on every route, then in Chromium from a real second
origin: a page served by another local server on another port. The rule case by case: tests/test_access.py.
"""
from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from nicegui import core

from taskdemo import access
from taskdemo.security import NICEGUI_PREFIX, SAFE_METHODS
from taskdemo.settings import Settings
from taskdemo.simulator import Simulator

from ..e2e.conftest import launched_chromium
from ..helpers import Server, finish
from .test_fuzz import whole_app

FOREIGN = 'http://evil.test'
ALLOWED = 'http://localhost:3000'
OWN = 'http://test'  # the Host of the in-process client (base_url)
TOKEN = 's3cret-token'
# what makes each control request change something, so that "nothing changed" means something
SETUP: dict[str, Callable[[Simulator], object]] = {
    '/start': lambda sim: None,
    '/reset': lambda sim: sim.start(),
    '/cancel': lambda sim: sim.start(),
    '/resume': lambda sim: (sim.start(), sim.interrupt()),
    '/retry': lambda sim: (sim.start(), finish(sim)),
    '/tasks/1/cancel': lambda sim: sim.start(),  # changing_routes() writes every path parameter as 1
    '/tasks/1/retry': lambda sim: (sim.start(), sim.cancel_task(1)),
}
BODIES = {'/start': {'tasks': 5}}


def changing_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the app that is not GET, HEAD or OPTIONS: ours, whatever they are called, not only those
    of today (NiceGUI's own `/_nicegui` paths keep NiceGUI's rules)."""
    found = set()
    for route, path in _every_route(core.app.routes):
        for method in set(getattr(route, 'methods', None) or ()) - SAFE_METHODS:
            if not path.startswith(NICEGUI_PREFIX):
                found.add((method, re.sub(r'\{[^}]*\}', '1', path)))
    return sorted(found)


def _every_route(routes: list, prefix: str = '') -> Iterator[tuple[object, str]]:
    """Each route with its path, those of the routers the app includes too (FastAPI keeps an included router as one
    route of the app, which knows its routes)."""
    for route in routes:
        router = getattr(route, 'original_router', None)
        if router is not None:
            yield from _every_route(router.routes, prefix + route.include_context.prefix)
        else:
            yield route, prefix + getattr(route, 'path', '')


async def test_every_route_that_changes_something_refuses_another_site_and_changes_nothing(sim: Simulator,
                                                                                            figures) -> None:
    foreign = ({'Origin': FOREIGN}, {'Referer': f'{FOREIGN}/page?x=1'}, {'Origin': 'null'},
               {'Origin': FOREIGN, 'Referer': f'{OWN}/'}, {'Referer': 'not a url'})
    codes: dict[str, list[int]] = {}
    async with whole_app(sim, Settings(cors_origins=(ALLOWED,))) as client:
        routes = changing_routes()
        assert {('POST', path) for path in SETUP} <= set(routes), routes
        for method, path in routes:
            for headers in foreign:
                sim.reset()
                SETUP.get(path, lambda sim: None)(sim)
                before = (await client.get('/status')).json()
                for body, content_type in (({'json': BODIES.get(path)}, {}),  # a body that would be taken
                                           ({'content': b'{not json'}, {'Content-Type': 'application/json'})):
                    # the second is refused too, not answered 422: the refusal comes before the body is read
                    response = await client.request(method, path, **body, headers={**content_type, **headers})
                    codes.setdefault(f'{method} {path}', []).append(response.status_code)
                    assert response.status_code == 403, (method, path, headers, response.text)
                    claimed = headers.get('Origin', headers.get('Referer'))
                    assert response.json()['detail'] == (
                        f'Cross-site request refused: {"origin" if "Origin" in headers else "referer"} {claimed} is '
                        f'neither this board (test) nor an allowed --cors-origin ({ALLOWED}).')
                    assert 'access-control-allow-origin' not in response.headers
                    assert (await client.get('/status')).json() == before, (method, path, headers)
            # the control: the same request from the board's own origin does change the board
            answer = await client.request(method, path, json=BODIES.get(path), headers={'Origin': OWN})
            codes[f'{method} {path}'].append(answer.status_code)
            assert answer.status_code != 403, (path, answer.text)
            if path in SETUP:
                assert answer.is_success and (await client.get('/status')).json() != before, (path, answer.text)
    figures(routes=[f'{method} {path}' for method, path in routes], status_codes=codes)


async def test_the_board_itself_an_allowed_origin_and_requests_without_either_header_go_on(sim: Simulator,
                                                                                           figures) -> None:
    codes = {}
    async with whole_app(sim, Settings(cors_origins=(ALLOWED,))) as client:
        for name, headers in {'no header': {}, 'own origin': {'Origin': OWN},
                              'own referer': {'Referer': f'{OWN}/docs'}, 'allowed origin': {'Origin': ALLOWED},
                              'allowed referer': {'Referer': f'{ALLOWED}/'}}.items():
            started = await client.post('/start', json={'tasks': 5}, headers=headers)
            assert (await client.get('/status')).json()['state'] == 'running', (name, started.text)
            reset = await client.post('/reset', headers=headers)
            codes[name] = (started.status_code, reset.status_code)
            assert started.status_code == reset.status_code == 200, (name, started.text, reset.text)
            assert (await client.get('/status')).json()['state'] == 'idle'
        allowed = await client.post('/reset', headers={'Origin': ALLOWED})
        assert allowed.headers['access-control-allow-origin'] == ALLOWED  # and it may read the answer
    figures(status_codes=codes)


async def test_another_site_is_refused_before_the_token_is_looked_at(sim: Simulator, monkeypatch, figures) -> None:
    compares: list[bytes] = []

    def compare_digest(given: bytes, expected: bytes) -> bool:
        compares.append(given)
        return given == expected

    monkeypatch.setattr(access, 'hmac', SimpleNamespace(compare_digest=compare_digest))
    async with whole_app(sim, Settings(control_token=TOKEN)) as client:
        codes = {
            'foreign, right token': (await client.post('/reset', headers={
                'Origin': FOREIGN, 'Authorization': f'Bearer {TOKEN}'})).status_code,
            'foreign, no token': (await client.post('/reset', headers={'Origin': FOREIGN})).status_code,
        }
        assert compares == []  # a page of another site never gets as far as the token
        codes['own, no token'] = (await client.post('/reset', headers={'Origin': OWN})).status_code
        codes['own, right token'] = (await client.post('/reset', headers={
            'Origin': OWN, 'Authorization': f'Bearer {TOKEN}'})).status_code
    figures(status_codes=codes, token_compares=len(compares))
    assert codes == {'foreign, right token': 403, 'foreign, no token': 403, 'own, no token': 401,
                     'own, right token': 200}
    assert compares == [TOKEN.encode()]


async def test_the_403_is_in_the_schema_of_every_route_that_changes_something(sim: Simulator) -> None:
    async with whole_app(sim, Settings()) as client:
        schema = (await client.get('/openapi.json')).json()
        routes = changing_routes()
    documented = {(method.upper(), re.sub(r'\{[^}]*\}', '1', path)) for path, operations in schema['paths'].items()
                  for method, operation in operations.items() if '403' in operation['responses']}
    assert set(routes) <= documented, set(routes) - documented
    assert all(method not in SAFE_METHODS for method, _ in documented), documented
    assert '--cors-origin' in schema['paths']['/reset']['post']['responses']['403']['description']


# ---- in Chromium, from a real second origin ------------------------------------------------------------------------

# the page of the other site: it drives the board as any page could, and cannot even see the answers
ATTACK_PAGE = '''<!doctype html><meta charset="utf-8"><title>another site</title>
<script>
window.attack = (async () => {
  const board = %s;
  const seen = [];
  for (const path of ['/reset', '/start']) {
    try {
      const response = await fetch(board + path, {method: 'POST', mode: 'no-cors'});
      seen.push(response.type);
    } catch (error) {
      seen.push(String(error));
    }
  }
  return seen;
})();
</script>'''


@contextlib.contextmanager
def other_site() -> Iterator[str]:
    """A second web server on another 127.0.0.1 port: `/?board=<url>` is a page that POSTs to that board."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            board = parse_qs(urlsplit(self.path).query).get('board', [''])[0]
            body = (ATTACK_PAGE % json.dumps(board)).encode()
            self.send_response(200)
            self.send_header('Content-Type', 'text/html; charset=utf-8')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name='other site', daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope='module')
def site() -> Iterator[str]:
    with other_site() as origin:
        yield origin


@pytest.fixture
def browser():
    """Per test: Playwright's sync API holds an event loop while open, and this module's in-process tests need one."""
    with launched_chromium() as browser:
        yield browser


def visit_other_site(browser, site: str, board: Server) -> tuple[list[str], dict[str, int]]:
    """Open the other site's page; what its script saw, and what the board really answered (Chromium sees it)."""
    context = browser.new_context()
    page = context.new_page()
    try:
        with page.expect_response(lambda response: response.url == f'{board.base}/reset') as reset, \
                page.expect_response(lambda response: response.url == f'{board.base}/start') as start:
            page.goto(f'{site}/?board={board.base}')
            seen = page.evaluate('window.attack')
        answered = {'/reset': reset.value.status, '/start': start.value.status}
    finally:
        context.close()
    return seen, answered


def a_cancelled_run(board: Server) -> dict:
    """The board with a run that is over: a /reset would clear it, a /start would begin another."""
    assert httpx.post(f'{board.base}/start', json={'tasks': 5}).status_code == 200
    assert httpx.post(f'{board.base}/cancel').status_code == 200
    return httpx.get(f'{board.base}/status').json()


def test_a_page_of_another_site_cannot_drive_the_board_in_chromium(site: str, browser, tmp_path: Path,
                                                                   figures) -> None:
    with Server(log_dir=tmp_path) as board:
        before = a_cancelled_run(board)
        seen, answered = visit_other_site(browser, site, board)
        after = httpx.get(f'{board.base}/status').json()
        # the board's own page may: a same-origin fetch carries the board's Origin
        context = browser.new_context()
        page = context.new_page()
        try:
            page.goto(f'{board.base}/')
            page.locator('.task-grid .task-card').first.wait_for()
            own = page.evaluate("fetch('/reset', {method: 'POST'}).then((response) => response.status)")
        finally:
            context.close()
        cleared = httpx.get(f'{board.base}/status').json()
    assert 'Traceback' not in board.log(), board.log()
    figures(page_saw=seen, board_answered=answered, state_before=before['state'], state_after=after['state'],
            own_origin_reset=own)
    assert seen == ['opaque', 'opaque']  # CORS hid the answers, as it always does
    assert answered == {'/reset': 403, '/start': 403}
    assert after == before and after['state'] == 'cancelled'  # neither cleared nor started again
    assert own == 200 and cleared['state'] == 'idle'


def test_a_page_of_an_allowed_origin_can_drive_the_board_in_chromium(site: str, browser, tmp_path: Path,
                                                                     figures) -> None:
    with Server('--cors-origin', site, log_dir=tmp_path) as board:
        before = a_cancelled_run(board)
        seen, answered = visit_other_site(browser, site, board)
        after = httpx.get(f'{board.base}/status').json()
    assert 'Traceback' not in board.log(), board.log()
    figures(page_saw=seen, board_answered=answered, run_before=before['run_id'], run_after=after['run_id'])
    assert answered == {'/reset': 200, '/start': 200}
    assert after['state'] == 'running' and after['run_id'] != before['run_id']  # cleared, then a new run
