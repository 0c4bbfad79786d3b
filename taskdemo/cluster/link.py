"""The connection to Redis: two clients (short calls fail fast; blocking reads wait), the key names, and whether
Redis can be reached. An outage is one log line when it starts and one when it ends, never a traceback; every
caller catches `UNREACHABLE` and goes on with what it has."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger('taskdemo.cluster')

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)
CALL_TIMEOUT_S = 0.5  # a short call (lease, publish, command) that takes longer counts as Redis being away
BLOCK_MS = 500  # a blocking read waits this long for news, then looks again
ANSWER_WAIT_S = 5  # a command's sender waits this long for the engine's answer (a blocking pop)
BACKOFF_S = (0.25, 0.5, 1.0, 2.0)  # waits between attempts while Redis is away


@dataclass(frozen=True)
class Keys:
    prefix: str = 'taskdemo:'

    @property
    def lease(self) -> str:
        return self.prefix + 'lease'

    @property
    def epoch(self) -> str:
        return self.prefix + 'epoch'

    @property
    def changes(self) -> str:
        return self.prefix + 'changes'

    @property
    def snapshot(self) -> str:
        return self.prefix + 'snapshot'

    @property
    def commands(self) -> str:
        return self.prefix + 'commands'

    @property
    def nodes(self) -> str:
        return self.prefix + 'nodes'

    @property
    def runs(self) -> str:
        return self.prefix + 'runs'

    def run(self, run_id: int) -> str:
        return f'{self.prefix}run:{run_id}'

    def reply(self, request_id: str) -> str:
        return f'{self.prefix}reply:{request_id}'


def check_url(url: str) -> None:
    """Raise ValueError with a readable reason when `url` is not a Redis URL redis-py can use."""
    if not url.startswith(('redis://', 'rediss://', 'unix://')):
        raise ValueError(f'must be a URL like redis://HOST:PORT/DB, got {url!r}')
    try:
        redis.ConnectionPool.from_url(url)
    except ValueError as error:
        raise ValueError(f'is not a usable Redis URL ({error}): {url!r}') from None


class Link:
    """Both clients and the outage state. `down_since` is the wall-clock time Redis was first missed, or None."""

    def __init__(self, url: str, *, keys: Keys | None = None, clock: Callable[[], float] = time.time,
                 clients: tuple[redis.Redis, redis.Redis] | None = None) -> None:
        """`clients` (fast, blocking) replaces the two made from `url`: tests pass fakeredis ones."""
        self.url = url
        self.keys = keys or Keys()
        if clients is None:
            no_retry = Retry(NoBackoff(), 0)
            clients = (
                redis.Redis.from_url(url, decode_responses=True, socket_timeout=CALL_TIMEOUT_S,
                                     socket_connect_timeout=CALL_TIMEOUT_S, retry=no_retry),
                redis.Redis.from_url(url, decode_responses=True, socket_timeout=BLOCK_MS / 1000 + ANSWER_WAIT_S + 1,
                                     socket_connect_timeout=CALL_TIMEOUT_S, retry=no_retry))
        self.fast, self.blocking = clients
        self.down_since: float | None = None
        self.outages = 0
        self.closed = False
        self._clock = clock
        self._failures = 0

    @property
    def up(self) -> bool:
        return self.down_since is None

    def ok(self) -> None:
        if self.down_since is not None:
            log.warning('Redis at %s is back after %.1f s; catching up from its snapshot', self.url,
                        self._clock() - self.down_since)
            self.down_since = None
        self._failures = 0

    def failed(self, error: BaseException) -> None:
        if self.closed:
            return  # this process is stopping: its own reads fail as the clients close, which is no outage
        self._failures += 1
        if self.down_since is None:
            self.down_since = self._clock()
            self.outages += 1
            log.error('cannot reach Redis at %s (%s); live updates and control are paused, trying again',
                      self.url, _reason(error))

    def backoff_s(self) -> float:
        """How long to wait before the next attempt while Redis is away."""
        return BACKOFF_S[min(self._failures, len(BACKOFF_S) - 1)] if self._failures else 0.0

    def since_text(self) -> str:
        return '' if self.down_since is None else datetime.fromtimestamp(self.down_since).strftime('%H:%M:%S')

    async def close(self) -> None:
        self.closed = True
        for client in (self.fast, self.blocking):
            try:
                await client.aclose()
            except UNREACHABLE:
                pass


def raise_if_cancelled() -> None:
    """Call first in an `except UNREACHABLE:` of a loop. On Python 3.11, a task cancelled while redis-py waits
    inside `asyncio.timeout` can see the cancellation turned into a TimeoutError (it looks like Redis went away);
    a loop that caught it would then never stop. This puts the cancellation back."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return f'{type(error).__name__}: {text}' if text else type(error).__name__
