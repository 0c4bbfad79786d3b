"""Past runs in cluster mode: the engine keeps each run's row, tasks and events in Redis (written with its
snapshots, at least once a second while it runs and again when it ends) and drops runs beyond `keep_runs`; any
process reads them here for `/runs`, exports, the History panel and replays. A missing Redis answers 503, not a
500."""
from __future__ import annotations

import json

from fastapi import HTTPException

from ..model import RunEvent, Task
from ..store import RunRow
from .link import UNREACHABLE, Link
from .wire import events_of, tasks_of


class RedisHistory:
    def __init__(self, link: Link, *, keep_runs: int) -> None:
        self.link = link
        self.keep_runs = keep_runs

    async def runs(self, limit: int | None = None) -> list[RunRow]:
        keys = self.link.keys
        try:
            ids = await self.link.fast.zrevrange(keys.runs, 0, (limit or 0) - 1)
            pipe = self.link.fast.pipeline(transaction=False)
            for run_id in ids:
                pipe.hget(keys.run(int(run_id)), 'row')
            rows = await pipe.execute()
        except UNREACHABLE as error:
            raise _away(self.link, error) from None
        return [RunRow(**json.loads(row)) for row in rows if row]

    async def run(self, run_id: int) -> RunRow | None:
        try:
            row = await self.link.fast.hget(self.link.keys.run(run_id), 'row')
        except UNREACHABLE as error:
            raise _away(self.link, error) from None
        return RunRow(**json.loads(row)) if row else None

    async def tasks(self, run_id: int) -> list[Task]:
        try:
            text = await self.link.fast.hget(self.link.keys.run(run_id), 'tasks')
        except UNREACHABLE as error:
            raise _away(self.link, error) from None
        return tasks_of(text) if text else []

    async def events(self, run_id: int) -> list[RunEvent]:
        """The run's events, in order; none for a run stored before events were kept (or not stored)."""
        try:
            text = await self.link.fast.hget(self.link.keys.run(run_id), 'events')
        except UNREACHABLE as error:
            raise _away(self.link, error) from None
        return events_of(text)


def _away(link: Link, error: BaseException) -> HTTPException:
    link.failed(error)
    return HTTPException(503, f'Cannot reach Redis since {link.since_text()}: the history is unavailable until it '
                              'is back.', headers={'Retry-After': '2'})
