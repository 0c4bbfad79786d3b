"""A client gone mid-request ends its request quietly; every other failure is raised as before (disconnects.py)."""
from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from fastapi import FastAPI

from taskdemo.disconnects import ClientGoneGuard, install

SCOPE = {'type': 'http', 'method': 'GET', 'path': '/_nicegui/font.woff2', 'headers': []}


def failing_app(error: Exception, *, start_first: bool = False, read_first: bool = False):
    async def app(scope, receive, send):
        if read_first:
            await receive()
        if start_first:
            await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        raise error
    return app


def receiving(*messages: dict):
    """A receive that gives these messages, then blocks as a connected client's does."""
    queue = list(messages)

    async def receive():
        if queue:
            return queue.pop(0)
        await asyncio.Event().wait()
    return receive


async def ignore(message):
    pass


async def test_a_request_whose_client_went_away_before_the_answer_ends_quietly(caplog):
    caplog.set_level(logging.DEBUG, logger='taskdemo.disconnects')
    guard = ClientGoneGuard(failing_app(RuntimeError('No response returned.')))
    await guard(SCOPE, receiving({'type': 'http.disconnect'}), ignore)
    assert 'the client went away before the answer' in caplog.text
    assert all(record.levelno == logging.DEBUG for record in caplog.records)


async def test_a_disconnect_the_app_itself_read_counts_too():
    guard = ClientGoneGuard(failing_app(RuntimeError('No response returned.'), read_first=True))
    await guard(SCOPE, receiving({'type': 'http.disconnect'}), ignore)


async def test_the_same_error_with_the_client_still_there_is_raised():
    guard = ClientGoneGuard(failing_app(RuntimeError('No response returned.')))
    with pytest.raises(RuntimeError, match='No response returned'):
        await guard(SCOPE, receiving(), ignore)


async def test_an_error_after_the_answer_started_is_raised_even_if_the_client_left():
    guard = ClientGoneGuard(failing_app(ValueError('boom'), start_first=True))
    with pytest.raises(ValueError, match='boom'):
        await guard(SCOPE, receiving({'type': 'http.disconnect'}), ignore)


async def test_a_request_body_still_coming_means_the_client_is_there():
    guard = ClientGoneGuard(failing_app(KeyError('bug')))
    with pytest.raises(KeyError):
        await guard(SCOPE, receiving({'type': 'http.request', 'body': b'{}', 'more_body': False}), ignore)


async def test_installed_the_guard_wraps_the_whole_stack_and_answers_go_through_unchanged():
    app = FastAPI()

    @app.get('/ok')
    async def ok() -> dict[str, str]:
        return {'ok': 'yes'}

    install(app)
    install(app)  # once is enough: a second install does not wrap it twice
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url='http://test') as client:
        response = await client.get('/ok')
    assert response.json() == {'ok': 'yes'}
    assert isinstance(app.middleware_stack, ClientGoneGuard)
    assert not isinstance(app.middleware_stack.app, ClientGoneGuard)
