"""What every HTTP response says about itself, and how much a request to our routes may send.

Every response carries `X-Content-Type-Options: nosniff` (a JSON error that echoes its input is never read as a
page) and a Content-Security-Policy that keeps the page to its own origin. A request body sent to one of our routes
(the API; NiceGUI's own `/_nicegui...` paths keep NiceGUI's rules) may be at most `MAX_BODY_BYTES`: a larger one is
answered `413` with a JSON `detail`, from its Content-Length before a byte of it is read, or as soon as a streamed
body passes the limit. The largest body the API takes, a `POST /start` with every setting, is about 200 bytes.
"""
from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
NICEGUI_PREFIX = '/_nicegui'  # its static files, uploads and socket.io (/_nicegui_ws)
POLICY = {
    'default-src': "'self'",
    # NiceGUI writes each page's elements into an inline script, and Vue compiles their templates in the browser
    'script-src': "'self' 'unsafe-inline' 'unsafe-eval'",
    'style-src': "'self' 'unsafe-inline'",  # Quasar and Vue set style attributes
    'img-src': "'self' data:",
    'font-src': "'self' data:",
    'connect-src': "'self'",  # socket.io and /ws: 'self' covers ws:// and wss:// to the same host and port
    'object-src': "'none'",
    'base-uri': "'self'",
    'form-action': "'self'",
    'frame-ancestors': "'self'",
}
DOCS_PATHS = ('/docs', '/redoc')  # FastAPI's API docs, whose code, styles and fonts come from public CDNs
DOCS_SOURCES = {
    'script-src': 'https://cdn.jsdelivr.net',
    'style-src': 'https://cdn.jsdelivr.net https://fonts.googleapis.com',
    'img-src': 'https://fastapi.tiangolo.com https://cdn.jsdelivr.net',
    'font-src': 'https://fonts.gstatic.com',
    'worker-src': "'self' blob:",  # ReDoc searches in a worker
}
TOO_LARGE_RESPONSE = {
    'description': f'the request body is larger than {MAX_BODY_BYTES // 1024} KiB',
    'content': {'application/json': {'schema': {
        'type': 'object', 'properties': {'detail': {'type': 'string'}}, 'required': ['detail']}}},
}


def content_security_policy(extra: dict[str, str] | None = None) -> str:
    """The policy as a header value, with `extra` sources added to (or as) the named directives."""
    extra = extra or {}
    directives = {name: ' '.join(filter(None, (POLICY.get(name), extra.get(name)))) for name in {**POLICY, **extra}}
    return '; '.join(f'{name} {sources}' for name, sources in directives.items())


HEADERS = {b'x-content-type-options': b'nosniff', b'content-security-policy': content_security_policy().encode()}
DOCS_HEADERS = {**HEADERS, b'content-security-policy': content_security_policy(DOCS_SOURCES).encode()}


def install_security(app: FastAPI, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
    """Add the middleware to `app`, and say in its OpenAPI schema that a route taking a body may answer 413."""
    app.add_middleware(SecurityMiddleware, max_body_bytes=max_body_bytes)
    if getattr(app.openapi, 'documents_body_limit', False):
        return  # installed already (tests build the app many times in one process)
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build_schema()
        for operations in schema.get('paths', {}).values():
            for operation in operations.values():
                if 'requestBody' in operation:
                    operation.setdefault('responses', {}).setdefault('413', TOO_LARGE_RESPONSE)
        return schema

    openapi.documents_body_limit = True  # type: ignore[attr-defined]
    app.openapi = openapi  # type: ignore[method-assign]


class SecurityMiddleware:
    """ASGI middleware: the headers above on every HTTP response, and the body limit on our routes."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        path: str = scope['path']
        headers = DOCS_HEADERS if path.startswith(DOCS_PATHS) else HEADERS
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message['type'] == 'http.response.start':
                started = True
                present = {name.lower() for name, _ in message.get('headers', ())}
                extra = [(name, value) for name, value in headers.items() if name not in present]
                message = {**message, 'headers': [*message.get('headers', ()), *extra]}
            await send(message)

        if path.startswith(NICEGUI_PREFIX):
            await self.app(scope, receive, send_with_headers)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _too_large(send_with_headers, f'{declared} bytes', self.max_body_bytes)
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
            await self.app(scope, receive_with_limit, send_with_headers)
        except BodyTooLarge:  # FastAPI answers it itself; a route of another kind lets it through to here
            if started:
                raise
            await _too_large(send_with_headers, f'more than {self.max_body_bytes} bytes', self.max_body_bytes)


class BodyTooLarge(HTTPException):
    """Raised while a route reads a body past the limit; FastAPI answers it as a 413 with this detail."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _detail(f'more than {limit} bytes', limit))


def _detail(size: str, limit: int) -> str:
    return f'The request body is too large: {size}; at most {limit} bytes are accepted.'


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get('content-length')
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # the HTTP server refuses such a request before it gets here


async def _too_large(send: Send, size: str, limit: int) -> None:
    body = json.dumps({'detail': _detail(size, limit)}, separators=(',', ':')).encode()
    await send({'type': 'http.response.start', 'status': 413,
                'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode()),
                            (b'connection', b'close')]})
    await send({'type': 'http.response.body', 'body': body})
