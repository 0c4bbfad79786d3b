"""A client that goes away mid-request is not a server fault.

NiceGUI wraps every request in two `BaseHTTPMiddleware`s (ui.run adds them last, so they sit outside ours). When a
client disconnects before the answer has started (a browser tab closed while a font or a poll is on its way),
Starlette's `call_next` can end in `RuntimeError('No response returned.')` (Kludex/starlette#2516), and uvicorn
then logs a full traceback for a request nobody is waiting for. `ClientGoneGuard` wraps the whole stack, outside
even the error handler: when a request fails before its answer has started and the client is indeed gone (its
`receive` says `http.disconnect` at once), it logs one line at debug level and ends. Anything else is raised as
before.
"""
from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

GONE_CHECK_S = 0.05  # how long to wait for the disconnect a vanished client leaves behind


class ClientGoneGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        started = False
        disconnected = False

        async def watched_receive() -> Message:
            nonlocal disconnected
            message = await receive()
            disconnected = disconnected or message['type'] == 'http.disconnect'
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message['type'] == 'http.response.start'
            await send(message)

        try:
            await self.app(scope, watched_receive, watched_send)
        except Exception as error:
            if started or not (disconnected or await _gone(receive)):
                raise
            log.debug('%s %s: the client went away before the answer (%r)', scope['method'], scope['path'], error)


async def _gone(receive: Receive) -> bool:
    try:
        message = await asyncio.wait_for(receive(), GONE_CHECK_S)
    except TimeoutError:
        return False
    return message['type'] == 'http.disconnect'


def install(app: FastAPI) -> None:
    """Put the guard around the app's whole middleware stack, however late the rest of it is added."""
    build = app.build_middleware_stack
    if getattr(build, 'guarded', False):
        return

    def guarded_stack() -> ASGIApp:
        return ClientGoneGuard(build())

    guarded_stack.guarded = True  # type: ignore[attr-defined]
    app.build_middleware_stack = guarded_stack  # type: ignore[method-assign]
