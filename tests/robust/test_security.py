"""Security: the headers every response carries (and that the board still works in Chromium under its policy), the
control token (needed, and compared in constant time), CORS for the configured origins only, no traceback in any
answer, text from a task shown as text (never as markup), and a default bind to this machine only.
"""
from __future__ import annotations

import hmac
import re
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from taskdemo import access, protocol
from taskdemo.cli import parse_args
from taskdemo.security import MAX_BODY_BYTES
from taskdemo.settings import Settings
from taskdemo.simulator import RunState, Simulator

from ..e2e.conftest import launched_chromium
from ..helpers import Server, clean_env
from .test_fuzz import whole_app

TOKEN = 's3cret-token'
ALLOWED_ORIGIN = 'http://localhost:3000'  # the seed frontend's, allowed by default
OTHER_ORIGIN = 'http://evil.example'
# every failure message of the board's server says this (see `board` below): markup that would run if inserted as HTML
PAYLOAD = '<img src=x onerror=alert(1)><script>alert(2)</script>'
SITECUSTOMIZE = f'''
import taskdemo.model as model
assert isinstance(model.FAILURE_KINDS, tuple), 'the failure messages moved: fix tests/robust/test_security.py'
model.FAILURE_KINDS = ({PAYLOAD!r},)
'''
INJECTED_JS = '''() => ({
    images: document.querySelectorAll('img[src="x"]').length,
    scripts: [...document.scripts].filter((script) => script.textContent.trim() === 'alert(2)').length})'''
VIOLATIONS_JS = '''
window.__violations = [];
document.addEventListener('securitypolicyviolation',
    (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
'''


@pytest.fixture(scope='module')
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server whose failing tasks all fail with PAYLOAD as their error."""
    folder = tmp_path_factory.mktemp('security')
    (folder / 'sitecustomize.py').write_text(SITECUSTOMIZE)
    with Server('--speed', '60', log_dir=folder, env=clean_env(PYTHONPATH=str(folder))) as running:
        yield running
    assert 'Traceback' not in running.log(), running.log()


@pytest.fixture
def browser():
    """Per test: Playwright's sync API holds an event loop while open, and this module's in-process tests need one."""
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def idle(board: Server) -> Server:
    assert httpx.post(f'{board.base}/reset').status_code == 200
    return board


def test_every_response_says_nosniff_and_carries_a_strict_content_security_policy(idle: Server, figures) -> None:
    page = httpx.get(f'{idle.base}/')
    static = idle.base + re.search(r'"(/_nicegui/[^"]+\.js)"', page.text).group(1)
    responses = {
        'page': page, 'static file': httpx.get(static), 'status': httpx.get(f'{idle.base}/status'),
        'schema': httpx.get(f'{idle.base}/openapi.json'), 'favicon': httpx.get(f'{idle.base}/favicon.ico'),
        '404': httpx.get(f'{idle.base}/nope'), '405': httpx.get(f'{idle.base}/start'),
        '422': httpx.post(f'{idle.base}/start', json={'tasks': 0}),
        '413': httpx.post(f'{idle.base}/start', content=b' ' * (MAX_BODY_BYTES + 1)),
        'docs': httpx.get(f'{idle.base}/docs'),
    }
    for name, response in responses.items():
        assert response.headers.get('x-content-type-options') == 'nosniff', name
        policy = parse_policy(response.headers.get('content-security-policy', ''))
        assert policy['default-src'] == ["'self'"], name
        assert policy['object-src'] == ["'none'"], name
        assert policy['base-uri'] == ["'self'"], name
        assert policy['frame-ancestors'] in (["'self'"], ["'none'"]), name
        assert policy['connect-src'] == ["'self'"], name
        assert policy['img-src'][:2] == ["'self'", 'data:'], name
        assert not {'*', 'http:', 'https:', 'data:'} & set(policy['script-src']), name
    assert responses['static file'].status_code == 200, static
    figures(responses_checked=len(responses), status_codes={name: r.status_code for name, r in responses.items()},
            policy=page.headers['content-security-policy'])


def test_the_board_works_under_its_policy_in_chromium(idle: Server, browser, figures) -> None:
    context = browser.new_context()
    page = context.new_page()
    console, sockets = [], []
    page.on('console', lambda message: console.append(f'{message.type}: {message.text}'))
    page.on('websocket', lambda socket: sockets.append(socket.url))
    page.add_init_script(VIOLATIONS_JS)
    try:
        page.goto(f'{idle.base}/')
        page.locator('.task-grid .task-card').first.wait_for()
        page.get_by_role('button', name='Start Process').click()
        page.locator('.task-grid .task-completed, .task-grid .task-failed').first.wait_for(timeout=15_000)
        cards = page.locator('.task-grid .task-card').count()
        violations = page.evaluate('window.__violations')
        csp_console = [line for line in console if 'Content Security Policy' in line]
        # the listener does hear a violation when there is one: an image from another port
        page.evaluate(f"new Image().src = 'http://127.0.0.1:{idle.port + 1}/x.png'")
        page.wait_for_function('window.__violations.length > 0')
        heard = page.evaluate('window.__violations')
        page.goto(f'{idle.base}/docs')  # offline, the CDN files fail to load; the policy must not be what stops them
        page.wait_for_load_state('load')
        docs_violations = page.evaluate('window.__violations')
    finally:
        context.close()
    figures(cards=cards, websockets=len(sockets), violations=len(violations) + len(docs_violations),
            console_csp_messages=len(csp_console))
    assert not violations and not docs_violations and not csp_console, (violations, docs_violations, csp_console)
    assert cards == 50
    assert any('/_nicegui_ws/' in url for url in sockets), sockets  # socket.io got its WebSocket: connect-src works
    assert heard and heard[0].startswith('img-src'), heard


def test_text_from_a_task_shows_as_text_never_as_markup(idle: Server, browser, figures) -> None:
    assert httpx.post(f'{idle.base}/start', json={'tasks': 5, 'failure_rate': 1}).status_code == 200
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on('dialog', lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(f'{idle.base}/')
        page.get_by_text(PAYLOAD).first.wait_for(timeout=15_000)  # the run's failures, listed with their error
        shown = page.get_by_text(PAYLOAD).count()
        titles = page.locator('.task-grid .task-failed').evaluate_all('cards => cards.map(card => card.title)')
        page.reload()  # now the failures are in the page as first built, not only in the updates that followed
        page.get_by_text(PAYLOAD).first.wait_for()
        injected = page.evaluate(INJECTED_JS)
        page.goto(f'{idle.base}/?tasks={PAYLOAD}')  # a shared link with markup in it: its message is text too
        page.locator('.task-grid .task-card').first.wait_for()
        injected_by_link = page.evaluate(INJECTED_JS)
        page.wait_for_timeout(300)  # a moment for an event handler that was let in to run
        seen = list(dialogs)
        with page.expect_event('dialog'):  # the control: markup that is let in does run, and is seen here
            page.evaluate('html => document.body.insertAdjacentHTML("beforeend", html)', PAYLOAD)
        control = page.evaluate(INJECTED_JS)
    finally:
        context.close()
    html = httpx.get(f'{idle.base}/').text
    status = httpx.get(f'{idle.base}/status')
    figures(texts_shown=shown, failed_card_titles=len(titles), dialogs=len(seen), injected=injected,
            injected_by_link=injected_by_link, page_html_has_raw_payload=PAYLOAD in html)
    assert not seen, seen
    assert control['images'] == 1 and dialogs == ['1'], (control, dialogs)
    assert shown >= 1 and titles and all(PAYLOAD in title for title in titles), (shown, titles)
    assert injected == injected_by_link == {'images': 0, 'scripts': 0}
    assert PAYLOAD in status.text and PAYLOAD not in html  # the page's own data escapes it
    assert status.headers['content-type'] == 'application/json'  # with nosniff: data, never a page


def test_cors_answers_only_the_configured_origins(idle: Server, figures) -> None:
    def preflight(origin: str) -> httpx.Response:
        return httpx.options(f'{idle.base}/start', headers={
            'Origin': origin, 'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'authorization, content-type'})

    allowed, other = preflight(ALLOWED_ORIGIN), preflight(OTHER_ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers['access-control-allow-origin'] == ALLOWED_ORIGIN
    assert 'POST' in allowed.headers['access-control-allow-methods']
    assert other.status_code >= 400 and 'access-control-allow-origin' not in other.headers
    simple = {origin: httpx.get(f'{idle.base}/status', headers={'Origin': origin}) for origin in (ALLOWED_ORIGIN,
                                                                                                   OTHER_ORIGIN)}
    assert simple[ALLOWED_ORIGIN].headers.get('access-control-allow-origin') == ALLOWED_ORIGIN
    assert 'access-control-allow-origin' not in simple[OTHER_ORIGIN].headers
    too_large = httpx.post(f'{idle.base}/start', content=b' ' * (MAX_BODY_BYTES + 1),
                           headers={'Origin': ALLOWED_ORIGIN})
    assert too_large.status_code == 413 and too_large.headers['access-control-allow-origin'] == ALLOWED_ORIGIN
    figures(preflight_allowed=allowed.status_code, preflight_other=other.status_code,
            simple_other_has_acao='access-control-allow-origin' in simple[OTHER_ORIGIN].headers)


CONTROL_SETUP = {  # how to make each control request possible, so that the right token gets a 2xx
    '/start': lambda sim: None,
    '/reset': lambda sim: sim.start(),
    '/cancel': lambda sim: sim.start(),
    '/resume': lambda sim: (sim.start(), sim.interrupt()),
}


async def test_control_needs_the_token_when_one_is_set(sim: Simulator, figures) -> None:
    codes: dict[str, list[int]] = {}
    async with whole_app(sim, Settings(control_token=TOKEN)) as client:
        schema = (await client.get('/openapi.json')).json()
        control = [path for path, operations in schema['paths'].items() if 'control' in operations.get('post', {})
                   .get('tags', ())]
        assert set(CONTROL_SETUP) <= set(control), control
        for path in control:
            sim.reset()
            CONTROL_SETUP.get(path, lambda sim: None)(sim)
            before = protocol.status(sim)
            for headers in ({}, {'Authorization': 'Bearer wrong'}, {'Authorization': f'Bearer {TOKEN}x'},
                            {'Authorization': TOKEN}, {'Authorization': f'Basic {TOKEN}'},
                            {'Authorization': f'Bearer {TOKEN[:-1]}'}, {'Authorization': 'Bearer '}):
                response = await client.post(path, headers=headers)
                codes.setdefault(path, []).append(response.status_code)
                assert response.status_code == 401, (path, headers, response.text)
                assert response.headers['www-authenticate'] == 'Bearer'
                assert 'token' in response.json()['detail']
                assert protocol.status(sim) == before, (path, headers)
            if path in CONTROL_SETUP:
                response = await client.post(path, headers={'Authorization': f'Bearer {TOKEN}'})
                codes[path].append(response.status_code)
                assert response.is_success, (path, response.text)
        watched = await client.get('/status')  # watching stays open
    figures(control_paths=control, status_codes=codes, status_without_token=watched.status_code)
    assert watched.status_code == 200


async def test_the_token_is_compared_in_constant_time_and_by_that_compare_alone(sim: Simulator, monkeypatch,
                                                                                figures) -> None:
    calls: list[tuple[bytes, bytes]] = []
    verdict: list[bool | None] = [None]  # None: the real compare's answer

    def compare_digest(given: bytes, expected: bytes) -> bool:
        calls.append((given, expected))
        return hmac.compare_digest(given, expected) if verdict[0] is None else verdict[0]

    monkeypatch.setattr(access, 'hmac', SimpleNamespace(compare_digest=compare_digest))
    async with whole_app(sim, Settings(control_token=TOKEN)) as client:
        async def reset(token: str) -> int:
            return (await client.post('/reset', headers={'Authorization': f'Bearer {token}'})).status_code

        codes = {'wrong': await reset('wrong'), 'right': await reset(TOKEN)}
        assert calls == [(b'wrong', TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]
        verdict[0] = True  # the compare says yes: a wrong token passes, so nothing else (no ==) decides
        codes['wrong, compare says yes'] = await reset('wrong')
        verdict[0] = False  # the compare says no: the right token fails
        codes['right, compare says no'] = await reset(TOKEN)
    figures(compare_calls=len(calls), status_codes=codes)
    assert codes == {'wrong': 401, 'right': 200, 'wrong, compare says yes': 200, 'right, compare says no': 401}


async def test_a_crash_inside_a_route_answers_without_a_traceback(sim: Simulator, monkeypatch, figures) -> None:
    def crash(_sim: Simulator) -> dict:
        raise RuntimeError('secret internals in /home/someone/taskdemo/protocol.py')

    monkeypatch.setattr(protocol, 'status', crash)
    async with whole_app(sim, Settings()) as client:
        response = await client.get('/status')
        still = await client.post('/start')
    figures(status_code=response.status_code, body=response.text)
    assert response.status_code == 500
    for leak in ('Traceback', 'secret internals', 'RuntimeError', 'protocol.py', 'File "'):
        assert leak not in response.text
    assert still.status_code == 200 and sim.state == RunState.RUNNING  # and the next request is served as usual


def test_the_server_serves_this_machine_only_unless_told_otherwise(figures) -> None:
    from_cli = parse_args([], env={})
    figures(default_host=from_cli.host, settings_default_host=Settings().host)
    assert from_cli.host == Settings().host == '127.0.0.1'
    assert parse_args(['--host', '0.0.0.0'], env={}).host == '0.0.0.0'  # only when asked


def parse_policy(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(';') if part.strip())
    return {name: sources for name, *sources in directives}
