"""Async click handlers that start at once.

NiceGUI runs an `async def` handler as a background task, so nothing of it happens before the click's handling
returns. A command given to the run in this process never waits, though, and the board (and its tests) should see
its effect right away, as with a plain function. `eager` runs the handler up to its first real wait within the
click; only what comes after such a wait (a command sent to another process) goes on as a background task.
"""
from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, ParamSpec

P = ParamSpec('P')


def eager(handler: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, Awaitable[None] | None]:
    """`handler`, begun when called: None once it has finished, or else the rest of it to await (a handler that
    returns an awaitable has NiceGUI await it, in the element's context)."""

    @functools.wraps(handler)
    def begun(*args: P.args, **kwargs: P.kwargs) -> Awaitable[None] | None:
        coroutine = handler(*args, **kwargs)
        try:
            waiting_for = coroutine.send(None)
        except StopIteration:
            return None
        return _Rest(coroutine, waiting_for)

    return begun


class _Rest:
    """A coroutine that has begun and now waits for `waiting_for`: awaiting this goes on with it from there."""

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_for: Any) -> None:
        self._coroutine = coroutine
        self._waiting_for = waiting_for

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, waiting_for = self._coroutine, self._waiting_for
        while True:
            try:
                sent = yield waiting_for  # the awaiting task waits for what the coroutine waits for, and resumes it
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as error:  # a cancellation, say: the coroutine hears it where it waits
                resume = functools.partial(coroutine.throw, error)
            else:
                resume = functools.partial(coroutine.send, sent)
            try:
                waiting_for = resume()
            except StopIteration:
                return
