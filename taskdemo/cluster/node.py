"""One process of a cluster: a board that mirrors the run, or, while it holds the lease, the engine that advances
it. Every process runs the same loop: renew the lease (engine) or try to take it (board), and say that it is
alive (`taskdemo:nodes`, for `GET /cluster`). Taking the lease over means: read the stream to its end (the old
engine can no longer add to it), go on with the run from there, and publish a snapshot at the new epoch."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException

from ..presence import Presence, Viewers
from ..simulator import Simulator
from .engine import Engine
from .lease import TTL_S, Lease
from .link import CALL_TIMEOUT_S, UNREACHABLE, Link, raise_if_cancelled
from .mirror import Mirror
from .replica import take_over

log = logging.getLogger('taskdemo.cluster')

RESUME_LIMIT_S = 30.0
NODE_GONE_S = 5.0  # a process not heard from for this long is left out of /cluster
FORGET_S = 60.0  # and after this long its report is deleted


class ClusterNode:
    def __init__(self, sim: Simulator, link: Link, *, port: int, keep_runs: int, ttl_s: float = TTL_S,
                 resume_limit_s: float = RESUME_LIMIT_S, presence: Presence | None = None,
                 tick_s: float | None = None, wall: Callable[[], float] = time.time) -> None:
        self.sim = sim
        self.link = link
        self.port = port
        self.id = f'{socket.gethostname()}:{port}'
        self.pid = os.getpid()
        self.keep_runs = keep_runs
        self.resume_limit_s = resume_limit_s
        self.presence = presence or Presence()  # this process's viewers, and where the others' are told
        self.lease = Lease(link, f'{self.id}/{self.pid}', ttl_s=ttl_s)
        self.mirror = Mirror(sim, link, wall=wall)
        self.engine: Engine | None = None
        self.takeovers = 0
        self.view: dict[str, Any] = {}  # the last /cluster answer this process read, for its pages
        self._tick_s = tick_s
        self._wall = wall
        self._following: asyncio.Task | None = None
        self._engine_task: asyncio.Task | None = None
        self._taken_over_at: float | None = None

    @property
    def role(self) -> str:
        return 'engine' if self.engine is not None else 'board'

    @property
    def down_since_text(self) -> str | None:
        """When Redis was first missed (HH:MM:SS), while it cannot be reached; None while it can."""
        return None if self.link.up else self.link.since_text()

    @property
    def moved_at(self) -> float | None:
        """When the run last moved to another engine, as this process saw it (wall clock)."""
        times = [t for t in (self.mirror.moved_at, self._taken_over_at) if t is not None]
        return max(times) if times else None

    # ---- the loop -------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Until cancelled: follow or advance the run, renew or try for the lease, report in."""
        self._following = asyncio.create_task(self.mirror.follow(), name='taskdemo mirror')
        try:
            while True:
                await self._beat()
                await asyncio.sleep(self.lease.every_s + self.link.backoff_s())
        finally:
            await self._stop_engine()
            if self._following is not None:
                self._following.cancel()

    async def _beat(self) -> None:
        try:
            if self.engine is not None:
                if not await self.lease.renew():
                    log.warning('this process lost the lease; it goes back to showing the run')
                    await self._step_down()
            elif self.mirror.epoch is not None or await self._fresh_redis():
                if await self.lease.acquire():
                    await self._take_over()
            await self._report()
            self.link.ok()
        except UNREACHABLE as error:
            raise_if_cancelled()
            self.link.failed(error)
        if self.engine is not None and self._engine_task is not None and self._engine_task.done():
            await self._step_down()  # it stopped by itself: lease overdue, or fenced

    async def _fresh_redis(self) -> bool:
        """No snapshot was ever written: the first engine starts from this process's own (idle) state."""
        return not await self.link.fast.exists(self.link.keys.snapshot)

    async def _take_over(self) -> None:
        self.mirror.paused = True
        try:
            await self.mirror.catch_up()
        except UNREACHABLE:
            raise_if_cancelled()
            self.lease.lose()  # the renewals will fail too; try again once Redis answers
            self.mirror.paused = False
            raise
        away_s = max(0.0, self._wall() - self.mirror.entry_ms / 1000) if self.mirror.entry_ms else 0.0
        moved_to = f'process:{self.id}' if self.mirror.epoch is not None else None  # None: a fresh Redis's first
        interrupted = take_over(self.sim, away_s=away_s, resume_limit_s=self.resume_limit_s, moved_to=moved_to)
        self.takeovers += 1
        if self.mirror.epoch is not None:  # not the very first engine of a fresh Redis
            self._taken_over_at = self._wall()
        log.warning('this process now advances the run (epoch %s, %.1f s after the last entry%s)', self.lease.epoch,
                    away_s, '; the run was away too long and waits to be resumed' if interrupted else '')
        options = {} if self._tick_s is None else {'tick_s': self._tick_s}
        self.engine = Engine(self.sim, self.link, self.lease, keep_runs=self.keep_runs,
                             command_after=self.mirror.command_after, **options)
        self._engine_task = asyncio.create_task(self.engine.run(), name='taskdemo engine')

    async def _step_down(self) -> None:
        await self._stop_engine()
        self.lease.lose()
        self.mirror.epoch = None  # reload: what this process advanced but could not publish is not the run
        self.mirror.paused = False

    async def _stop_engine(self) -> None:
        """Stop the engine and wait for it to end by itself (within a tick and a call); cancel it only if not."""
        engine, task = self.engine, self._engine_task
        if engine is None or task is None:
            return
        engine.stop()
        done, _ = await asyncio.wait({task}, timeout=engine.tick_s + 2 * CALL_TIMEOUT_S + 0.5)
        if not done:
            task.cancel()
        elif not task.cancelled() and (error := task.exception()) is not None:
            log.error('the engine stopped with an error: %r', error)
        engine.close()
        self.engine, self._engine_task = None, None

    async def stop(self) -> None:
        """A clean stop: give the lease up at once, so that another process goes on with the run now."""
        await self._stop_engine()
        self.mirror.paused = True
        with contextlib.suppress(*UNREACHABLE):
            await self.lease.release()
            await self.link.fast.hdel(self.link.keys.nodes, self.id)
        await self.link.close()

    # ---- who is alive ---------------------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        engine = self.engine
        return {'id': self.id, 'pid': self.pid, 'port': self.port, 'role': self.role,
                'version': self.sim.version,
                'entry_ms': self.mirror.entry_ms if engine is None else int(self._wall() * 1000),
                **viewer_counts(self.presence.local), 'seen': self._wall()}

    async def _report(self) -> None:
        """Say that this process is alive, and read everybody else's reports (for this process's pages)."""
        await self.link.fast.hset(self.link.keys.nodes, self.id, json.dumps(self.report()))
        self.view = await self.read_view()
        others = [node for node in self.view['processes'] if node['id'] != self.id]
        self.presence.elsewhere(Viewers(pages=sum(node['pages'] for node in others),
                                        streams=sum(node['streams'] for node in others)))

    async def answer(self) -> dict[str, Any]:
        """`GET /cluster`, read now; a 503 that says since when while Redis cannot be reached."""
        try:
            return await self.read_view()
        except UNREACHABLE as error:
            raise_if_cancelled()
            self.link.failed(error)
            raise HTTPException(503, f'Cannot reach Redis since {self.link.since_text()}.',
                                headers={'Retry-After': '2'}) from None

    async def read_view(self) -> dict[str, Any]:
        """`GET /cluster`, read from Redis now. Raises UNREACHABLE errors."""
        keys = self.link.keys
        pipe = self.link.fast.pipeline(transaction=False)
        pipe.hgetall(keys.nodes)
        pipe.get(keys.lease)
        pipe.get(keys.epoch)
        pipe.xrevrange(keys.changes, count=1)
        nodes, lease, epoch, last = await pipe.execute()
        now = self._wall()
        gone = [node_id for node_id, text in nodes.items() if now - json.loads(text)['seen'] > FORGET_S]
        if gone:
            await self.link.fast.hdel(keys.nodes, *gone)
        return {'this': self.id, **cluster_view(nodes, lease, epoch, last, now=now)}


def viewer_counts(viewers: Viewers) -> dict[str, int]:
    """A process's own viewers as it reports them: `viewers` (the total, as /cluster shows per process), by kind."""
    return {'viewers': viewers.total, 'pages': viewers.pages, 'streams': viewers.streams}


def cluster_view(nodes: dict[str, str], lease: str | None, epoch: str | None, last: list, *,
                 now: float) -> dict[str, Any]:
    """`GET /cluster`: the processes alive, which one advances the run, its epoch, and each one's lag behind the
    newest entry in versions and seconds."""
    newest_version, newest_ms = None, None
    if last:
        entry_id, fields = last[0]
        newest_version, newest_ms = int(fields['v']), int(entry_id.split('-')[0])
    processes = []
    for text in nodes.values():
        node = json.loads(text)
        if now - node['seen'] > NODE_GONE_S:
            continue
        behind = None if newest_version is None else max(0, newest_version - node['version'])
        lag_s = None if newest_ms is None or node['role'] == 'engine' else \
            round(max(0, newest_ms - node['entry_ms']) / 1000, 3)
        processes.append({'id': node['id'], 'pid': node['pid'], 'port': node['port'], 'role': node['role'],
                          'version': node['version'], 'behind_versions': behind,
                          'behind_s': 0.0 if node['role'] == 'engine' else lag_s,
                          'viewers': node['viewers'], 'pages': node.get('pages', 0),
                          'streams': node.get('streams', 0), 'seen_s_ago': round(now - node['seen'], 3)})
    processes.sort(key=lambda node: node['id'])
    engine = lease.split('/')[0] if lease else None
    return {'engine': engine, 'epoch': int(epoch) if epoch else None, 'version': newest_version,
            'processes': processes, 'viewers': sum(node['viewers'] for node in processes)}
