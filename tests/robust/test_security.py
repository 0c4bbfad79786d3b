"""Security: the headers every response carries, with the Content-Security-Policy of its kind (and that the board and
the API docs work in Chromium under theirs, and run nothing else), the control token (needed, and compared in
constant time), CORS for the configured origins only, no traceback in any answer, text from a task shown as text
(never as markup), and a default bind to this machine only. Requests from other sites: test_cross_site.py.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterator
from html.parser import HTMLParser
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
INJECTED_HANDLER = '<img src="data:," onerror="window.__handlerRan = true" style="display:none">'
CDN_STAND_INS = {  # what Swagger UI's and ReDoc's pages need of their files to run their own inline code
    'https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js':
        'window.SwaggerUIBundle = (options) => { window.__swaggerUrl = options.url; return {}; };'
        'SwaggerUIBundle.presets = {apis: {}}; SwaggerUIBundle.SwaggerUIStandalonePreset = {};',
    'https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js': 'window.__redocRan = true;',
}
INJECT_SCRIPTS_JS = '''() => new Promise((resolve) => {
    const inline = document.createElement('script');
    inline.textContent = 'window.__injectedRan = true;';
    document.body.append(inline);  // an inline script runs at once, or never
    const file = document.createElement('script');
    file.src = 'https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/other.js';
    file.onload = () => resolve({file: 'ran', inline: window.__injectedRan === true});
    file.onerror = () => resolve({file: 'refused', inline: window.__injectedRan === true});
    document.body.append(file);
})'''
NO_CONTENT = {'default-src': ["'none'"], 'base-uri': ["'none'"], 'form-action': ["'none'"],
              'frame-ancestors': ["'none'"]}
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


def test_every_response_says_nosniff_and_carries_the_policy_of_its_kind(idle: Server, figures) -> None:
    page = httpx.get(f'{idle.base}/')
    static = idle.base + re.search(r'"(/_nicegui/[^"]+\.js)"', page.text).group(1)
    pages = {'page': page, 'docs': httpx.get(f'{idle.base}/docs'), 'redoc': httpx.get(f'{idle.base}/redoc'),
             'oauth2 redirect': httpx.get(f'{idle.base}/docs/oauth2-redirect')}
    others = {
        'static file': httpx.get(static), 'status': httpx.get(f'{idle.base}/status'),
        'schema': httpx.get(f'{idle.base}/openapi.json'), 'favicon': httpx.get(f'{idle.base}/favicon.ico'),
        '404': httpx.get(f'{idle.base}/nope'), '405': httpx.get(f'{idle.base}/start'),
        '422': httpx.post(f'{idle.base}/start', json={'tasks': 0}),
        '413': httpx.post(f'{idle.base}/start', content=b' ' * (MAX_BODY_BYTES + 1)),
        '403': httpx.post(f'{idle.base}/start', headers={'Origin': OTHER_ORIGIN}),
    }
    policies = {}
    for name, response in {**pages, **others}.items():
        assert response.headers.get('x-content-type-options') == 'nosniff', name
        policies[name] = parse_policy(response.headers.get('content-security-policy', ''))
    for name in others:  # no page: nothing may load, run or frame it
        assert policies[name] == NO_CONTENT, (name, policies[name])
    files, inline = scripts_of(page.text)
    assert files and inline and all(url.startswith('/_nicegui/') for url in files)
    assert policies['page'] == {  # eval for Vue and NiceGUI; inline scripts only those of this very page, by hash
        'default-src': ["'self'"], 'script-src': ["'self'", "'unsafe-eval'", *inline],
        'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'], 'font-src': ["'self'"],
        'connect-src': ["'self'"], 'object-src': ["'none'"], 'base-uri': ["'self'"], 'form-action': ["'self'"],
        'frame-ancestors': ["'self'"]}
    for name in ('docs', 'redoc', 'oauth2 redirect'):  # exactly the script files they load, and their inline script
        files, inline = scripts_of(pages[name].text)
        assert policies[name]['script-src'] == [*files, *inline], (name, policies[name])
        assert policies[name]['default-src'] == ["'none'"] and policies[name]['object-src'] == ["'none'"], name
        assert "'unsafe-inline'" not in policies[name]['style-src'] or name == 'redoc', policies[name]  # its CSS-in-JS
    assert scripts_of(pages['docs'].text)[0] == ['https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js']
    assert len(policies['docs']['script-src']) == 2 and len(policies['oauth2 redirect']['script-src']) == 1
    assert policies['redoc']['script-src'] == ['https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js']
    assert others['static file'].status_code == 200 and others['403'].status_code == 403, static
    figures(responses_checked=len(policies),
            status_codes={name: response.status_code for name, response in {**pages, **others}.items()},
            page_inline_scripts=len(scripts_of(page.text)[1]), page_policy=page.headers['content-security-policy'],
            docs_policy=pages['docs'].headers['content-security-policy'])


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
        # no 'unsafe-inline' for scripts: markup that slipped into the page could not run its event handler
        page.evaluate('html => document.body.insertAdjacentHTML("beforeend", html)', INJECTED_HANDLER)
        page.wait_for_function(
            'window.__handlerRan === true || window.__violations.some((line) => line.startsWith("script-src-attr"))')
        handler_ran = page.evaluate('window.__handlerRan === true')
    finally:
        context.close()
    figures(cards=cards, websockets=len(sockets), violations=len(violations), console_csp_messages=len(csp_console),
            injected_handler_ran=handler_ran)
    assert not violations and not csp_console, (violations, csp_console)
    assert cards == 50
    assert any('/_nicegui_ws/' in url for url in sockets), sockets  # socket.io got its WebSocket: connect-src works
    assert heard and heard[0].startswith('img-src'), heard
    assert not handler_ran


def test_the_api_docs_run_only_their_own_script_files_in_chromium(idle: Server, browser, figures) -> None:
    """Offline, the CDN is played by Playwright: the files the docs load answer with small stand-ins that say they
    ran, any other file of the same CDN with a script that would say so too. (No `wait_for_function` here: its
    polling evaluates a string in the page, which these pages rightly refuse.)"""
    def cdn(route) -> None:
        stand_in = CDN_STAND_INS.get(route.request.url, 'window.__otherFileRan = true;')
        route.fulfill(status=200, content_type='application/javascript', body=stand_in)

    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(VIOLATIONS_JS)
    page.route('https://cdn.jsdelivr.net/**/*.js', cdn)
    page.route(re.compile(r'^https://(?!cdn\.jsdelivr\.net/).*'), lambda route: route.abort())  # fonts, logos
    try:
        page.goto(f'{idle.base}/docs')  # its scripts block the parser: they have run (or been refused) at `load`
        swagger = {'url': page.evaluate('window.__swaggerUrl'), 'violations': page.evaluate('window.__violations')}
        # another file of the same CDN, and an inline script; the CDN answers every file, so an error is the policy's
        swagger['injected'] = page.evaluate(INJECT_SCRIPTS_JS)
        page.goto(f'{idle.base}/redoc')
        redoc = {'ran': page.evaluate('window.__redocRan === true'), 'violations': page.evaluate('window.__violations')}
    finally:
        context.close()
    figures(swagger=swagger, redoc=redoc)
    assert swagger == {'url': '/openapi.json', 'violations': [], 'injected': {'file': 'refused', 'inline': False}}
    assert redoc == {'ran': True, 'violations': []}


def test_text_from_a_task_shows_as_text_never_as_markup(idle: Server, browser, figures) -> None:
    assert httpx.post(f'{idle.base}/start', json={'tasks': 5, 'failure_rate': 1}).status_code == 200
    # the escaping alone, with the policy out of the way: it would block an inline handler on its own (see
    # test_the_board_works_under_its_policy_in_chromium), and then this test could not tell escaping from blocking
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on('dialog', lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(f'{idle.base}/')
        page.get_by_text(PAYLOAD).first.wait_for(timeout=15_000)  # the run's failures, listed with their error
        shown = page.get_by_text(PAYLOAD).count()
        titles = page.locator('.task-grid .task-failed').evaluate_all(  # each card's name carries its error
            "cards => cards.map(card => card.getAttribute('aria-label'))")
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

    monkeypatch.setattr(protocol, 'run_state', crash)  # what GET /status builds once per change
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


def scripts_of(html: str) -> tuple[list[str], list[str]]:
    """The script files a page loads, and the CSP sources of its inline scripts' sha256, read with Python's own HTML
    parser (not the server's scan)."""
    class Scripts(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.files: list[str] = []
            self.inline: list[str] = []
            self.text: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == 'script':
                src = dict(attrs).get('src')
                self.files.extend([src] if src else [])
                self.text = None if src else []

        def handle_data(self, data: str) -> None:
            if self.text is not None:
                self.text.append(data)

        def handle_endtag(self, tag: str) -> None:
            if tag == 'script' and self.text is not None:
                digest = hashlib.sha256(''.join(self.text).encode()).digest()
                self.inline.append(f"'sha256-{base64.b64encode(digest).decode()}'")
                self.text = None

    parser = Scripts()
    parser.feed(html)
    return parser.files, parser.inline
