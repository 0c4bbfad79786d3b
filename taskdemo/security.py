"""What every HTTP response says about itself, who may change the board from a browser, and how much a request to
our routes may send.

- Every response carries `X-Content-Type-Options: nosniff` (a JSON error that echoes its input is never read as a
  page) and a Content-Security-Policy fitted to its kind (`policy_for`): the board's pages (NiceGUI's HTML) may run
  their own files, their own inline scripts (by hash, taken from that very response) and eval, which NiceGUI needs;
  the API docs only their exact script files and the hash of their inline script; anything else (JSON, files,
  errors) nothing at all.
- A request that would change something (any method but GET, HEAD and OPTIONS) to one of our routes is refused with
  `403` when the browser that sent it says it comes from another site (`access.cross_site_refusal`), before its body
  is read: every control route, and any added later, without a line of its own.
- A request body sent to one of our routes (NiceGUI's own `/_nicegui...` paths keep NiceGUI's rules) may be at most
  `MAX_BODY_BYTES`: a larger one is answered `413` with a JSON `detail`, from its Content-Length before a byte of it
  is read, or as soon as a streamed body passes the limit. The largest body the API takes, a `POST /start` with every
  setting, is about 200 bytes.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Collection
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access import cross_site_refusal

MAX_BODY_BYTES = 64 * 1024
NICEGUI_PREFIX = '/_nicegui'  # its static files, uploads and socket.io (/_nicegui_ws)
SAFE_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS'})
# What was checked in Chromium (tests/robust/test_security.py), directive by directive:
PAGE_POLICY = {
    'default-src': "'self'",
    # 'unsafe-eval' is needed: Vue compiles the templates of NiceGUI's components in the browser (`new Function` in
    # vue.esm-browser.prod.js) and nicegui.js evaluates `:prop` values and `js_handler`s; without it the page stays
    # blank. 'unsafe-inline' is not: the page's inline scripts (its elements, the import map) are allowed by their
    # sha256, added per response, so an injected `onerror=` handler or `javascript:` URL does not run. Those hashes
    # cover whatever inline script the served HTML holds; NiceGUI's escaping of page data keeps markup out of it.
    'script-src': "'self' 'unsafe-eval'",
    'style-src': "'self' 'unsafe-inline'",  # NiceGUI and Tailwind write <style> elements, Vue and Quasar style=""
    'img-src': "'self' data:",  # the favicon is a data: SVG
    'font-src': "'self'",
    'connect-src': "'self'",  # socket.io and /ws: 'self' covers ws:// and wss:// to the same host and port
    'object-src': "'none'",
    'base-uri': "'self'",
    'form-action': "'self'",
    'frame-ancestors': "'self'",
}
# FastAPI's API docs, whose code, styles and fonts come from public CDNs. Their script-src is added per response: the
# exact URLs of the page's script files and the sha256 of its inline script, as served (neither needs eval). Checked
# in Chromium with the real Swagger UI 5 and ReDoc 2 files: Swagger UI (also "Try it out") needs no inline style;
# ReDoc writes <style> elements (styled-components), searches in a worker made from a blob and shows its logo.
DOCS_POLICIES = {
    '/docs': {  # Swagger UI, and its /docs/oauth2-redirect
        'default-src': "'none'",
        'script-src': '',
        'style-src': 'https://cdn.jsdelivr.net',
        'img-src': "'self' data: https://fastapi.tiangolo.com",
        'connect-src': "'self'",  # /openapi.json, and "Try it out"
        'object-src': "'none'",
        'base-uri': "'none'",
        'form-action': "'self'",
        'frame-ancestors': "'self'",
    },
    '/redoc': {
        'default-src': "'none'",
        'script-src': '',
        'style-src': "'unsafe-inline' https://fonts.googleapis.com",
        'img-src': "'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
        'font-src': 'https://fonts.gstatic.com',
        'connect-src': "'self'",  # /openapi.json
        'worker-src': 'blob:',
        'object-src': "'none'",
        'base-uri': "'none'",
        'form-action': "'self'",
        'frame-ancestors': "'self'",
    },
}
# JSON, CSV, static files, errors: nothing in them is a page, so nothing may load, run or frame them
NO_CONTENT_POLICY = {'default-src': "'none'", 'base-uri': "'none'", 'form-action': "'none'",
                     'frame-ancestors': "'none'"}
TOO_LARGE_RESPONSE = {
    'description': f'the request body is larger than {MAX_BODY_BYTES // 1024} KiB',
    'content': {'application/json': {'schema': {
        'type': 'object', 'properties': {'detail': {'type': 'string'}}, 'required': ['detail']}}},
}
CROSS_SITE_RESPONSE = {
    'description': 'sent by a browser from another site: its Origin (or Referer) is neither this board nor an '
                   'allowed --cors-origin',
    'content': TOO_LARGE_RESPONSE['content'],
}
SRC = re.compile(r'''(?:^|\s)src\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))''', re.IGNORECASE)
# the HTML parser ends a script element at the first `</script` followed by a space, `/` or `>`
SCRIPT_START = re.compile(r'<script(?=[\t\n\f\r />])', re.IGNORECASE)
SCRIPT_END = re.compile(r'</script(?=[\t\n\f\r />])', re.IGNORECASE)


def policy_for(path: str, html: bytes | None) -> str:
    """The Content-Security-Policy for a response to `path`: `html` is its body when it is an HTML page."""
    if html is None:
        return NO_CONTENT_HEADER
    files, hashes = _scripts(html)
    for prefix, policy in DOCS_POLICIES.items():
        if path == prefix or path.startswith(f'{prefix}/'):
            absolute = [url for url in files if url.startswith('https://')]
            return _header({**policy, 'script-src': ' '.join([*absolute, *hashes]) or "'none'"})
    return _header({**PAGE_POLICY, 'script-src': ' '.join([PAGE_POLICY['script-src'], *hashes])})


def install_security(app: FastAPI, *, max_body_bytes: int = MAX_BODY_BYTES,
                     allowed_origins: Collection[str] = ()) -> None:
    """Add the middleware to `app`, and say in its OpenAPI schema that a route taking a body may answer 413 and one
    that changes something 403. `allowed_origins` are the `--cors-origin`s, which may change the board too."""
    app.add_middleware(SecurityMiddleware, max_body_bytes=max_body_bytes, allowed_origins=tuple(allowed_origins))
    if getattr(app.openapi, 'documents_body_limit', False):
        return  # installed already (tests build the app many times in one process)
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build_schema()
        for operations in schema.get('paths', {}).values():
            for method, operation in operations.items():
                responses = operation.setdefault('responses', {})
                if 'requestBody' in operation:
                    responses.setdefault('413', TOO_LARGE_RESPONSE)
                if method.upper() not in SAFE_METHODS:
                    responses.setdefault('403', CROSS_SITE_RESPONSE)
        return schema

    openapi.documents_body_limit = True  # type: ignore[attr-defined]
    app.openapi = openapi  # type: ignore[method-assign]


class SecurityMiddleware:
    """ASGI middleware: the headers above on every HTTP response; the cross-site refusal and the body limit on our
    routes."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = MAX_BODY_BYTES,
                 allowed_origins: Collection[str] = ()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.allowed_origins = tuple(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        path: str = scope['path']
        answer = _WithHeaders(send, path)
        if path.startswith(NICEGUI_PREFIX):
            await self.app(scope, receive, answer)
            return
        headers = Headers(scope=scope)
        if scope['method'] not in SAFE_METHODS:
            refusal = cross_site_refusal(origin=headers.get('origin'), referer=headers.get('referer'),
                                         host=headers.get('host'), allowed_origins=self.allowed_origins)
            if refusal is not None:
                await _answer(answer, 403, refusal)
                return
        declared = _content_length(headers)
        if declared is not None and declared > self.max_body_bytes:
            await _answer(answer, 413, _detail(f'{declared} bytes', self.max_body_bytes))
            return
        received = 0

        async def receive_with_limit() -> Message:
            nonlocal received
            message = await receive()
            if message['type'] == 'http.request':
                received += len(message.get('body', b''))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        try:
            await self.app(scope, receive_with_limit, answer)
        except BodyTooLarge:  # FastAPI answers it itself; a route of another kind lets it through to here
            if answer.started:
                raise
            await _answer(answer, 413, _detail(f'more than {self.max_body_bytes} bytes', self.max_body_bytes))


class BodyTooLarge(HTTPException):
    """Raised while a route reads a body past the limit; FastAPI answers it as a 413 with this detail."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _detail(f'more than {limit} bytes', limit))


class _WithHeaders:
    """Sends a response with our headers added. An HTML page is held until its whole body is in, because its policy
    names the hashes of the scripts in it (the board's page is 30 KB at 50 tasks, 170 KB at 10,000)."""

    def __init__(self, send: Send, path: str) -> None:
        self.send = send
        self.path = path
        self.started = False
        self.held: Message | None = None
        self.body: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message['type'] == 'http.response.start':
            self.started = True
            if _is_html(message):
                self.held = message
                return
            message = _add_headers(message, policy_for(self.path, None))
        elif self.held is not None:
            if message['type'] == 'http.response.body':
                self.body.append(message.get('body', b''))
                if message.get('more_body', False):
                    return
                message = {**message, 'body': b''.join(self.body)}
            await self.send(_add_headers(self.held, policy_for(self.path, b''.join(self.body))))
            self.held = None
        await self.send(message)


def _add_headers(message: Message, policy: str) -> Message:
    present = {name.lower() for name, _ in message.get('headers', ())}
    extra = [(name, value) for name, value in ((b'x-content-type-options', b'nosniff'),
                                               (b'content-security-policy', policy.encode())) if name not in present]
    return {**message, 'headers': [*message.get('headers', ()), *extra]}


def _is_html(message: Message) -> bool:
    content_type = Headers(raw=list(message.get('headers', ()))).get('content-type', '')
    return content_type.split(';')[0].strip().lower() == 'text/html'


def _scripts(html: bytes) -> tuple[list[str], list[str]]:
    """The script files an HTML page loads (their `src`), and the CSP sources of its inline scripts' sha256.

    A scan rather than one regular expression for the whole element: for the board's page at 10,000 tasks (about
    170 KB) this takes some 2 ms, next to the 120 ms it takes to build the page."""
    text = html.decode('utf-8', errors='replace')
    files, hashes = [], []
    position = 0
    while (start := SCRIPT_START.search(text, position)) is not None:
        opened = text.find('>', start.end())
        end = SCRIPT_END.search(text, opened + 1) if opened != -1 else None
        if end is None:
            break
        position = end.end()
        if src := SRC.search(text, start.end(), opened):
            files.append(next(group for group in src.groups() if group is not None))
            continue
        # the browser hashes the script's text as its parser sees it: with every line break as \n
        content = text[opened + 1:end.start()].replace('\r\n', '\n').replace('\r', '\n')
        digest = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return files, list(dict.fromkeys(hashes))


def _header(policy: dict[str, str]) -> str:
    return '; '.join(f'{name} {sources}' for name, sources in policy.items())


NO_CONTENT_HEADER = _header(NO_CONTENT_POLICY)  # what most responses carry: joined once, not per response


def _detail(size: str, limit: int) -> str:
    return f'The request body is too large: {size}; at most {limit} bytes are accepted.'


def _content_length(headers: Headers) -> int | None:
    value = headers.get('content-length')
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # the HTTP server refuses such a request before it gets here


async def _answer(send: Send, status: int, detail: str) -> None:
    """A JSON `{"detail"}` answer from here, without reading the request's body (so the connection closes after)."""
    body = json.dumps({'detail': detail}, separators=(',', ':')).encode()
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode()),
                            (b'connection', b'close')]})
    await send({'type': 'http.response.body', 'body': body})
