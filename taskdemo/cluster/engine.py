"""The engine: the one process that advances the run, while it holds the lease.

Every change the simulator makes becomes a stream entry at once (read off the tasks at that moment, so entries
apply in order at exactly the simulator's versions). After each tick, and after each command, the entries go to
Redis in one fenced script, with a fresh snapshot at least once a second and with every new run or reset. A tick
whose entries could not be published is not followed by another: the engine does not advance a run it cannot
publish. It stops at once when its lease is overdue by its own clock, or when Redis says it was fenced off.

The run's events (model.RunEvent) travel with it: all of them in every snapshot and in the run's history record,
and in each change entry the ones added since the entry before (few runs have more than a handful; most entries
carry none). A run that ends and is replaced before the next publish (a reset of a running run cancels it, then
clears the board, in one command) is still written to the history as it ended.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import ResponseError

from ..control import ControlError, execute
from ..model import Change, Run, RunEvent, Task
from ..simulator import Simulator
from . import scripts
from .lease import Lease
from .link import BLOCK_MS, UNREACHABLE, Link, raise_if_cancelled
from .wire import Entry, Snapshot, change_data, clock_of, dumps, events_text, new_events, tasks_text

log = logging.getLogger('taskdemo.cluster')

TICK_S = 0.25
SNAPSHOT_EVERY_S = 1.0
IDLE_TICK_EVERY_S = 1.0  # with no run going, a tick entry this often still shows the engine alive
STREAM_LENGTH = 20_000  # entries kept (about 80 minutes at four a second); MAXLEN ~ trims in whole blocks
COMMAND_LIFETIME_S = 10.0  # a command older than this was given up on by its sender (which waits 5 s)
REPLY_LIFETIME_S = 30


class Fenced(Exception):
    """A newer engine exists: this one must not write again."""


class Unpublished(Exception):
    """Redis could not be reached; the entries wait and the run does not advance."""


class Engine:
    def __init__(self, sim: Simulator, link: Link, lease: Lease, *, keep_runs: int, command_after: str = '0-0',
                 tick_s: float = TICK_S, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.sim = sim
        self.link = link
        self.lease = lease
        self.keep_runs = keep_runs
        self.tick_s = tick_s
        self.published_version = sim.version
        self.published_entry = ''
        self.stopped: str | None = None  # why it stopped: 'lease', 'fenced', 'stop'
        self._clock, self._wall = clock, wall
        self._pending: list[Entry] = []
        self._structure = True  # the first publish carries a snapshot: a new epoch starts from one
        self._snapshot_at = float('-inf')
        self._tick_at = float('-inf')
        self._last_step = clock()
        self._command_after = command_after
        self._events_sent = len(sim.events)  # the run's events that entries (or the next snapshot) carry
        self._ended: Ended | None = None  # the run as it last ended, until a publish has stored it
        self._lock = asyncio.Lock()
        self._publish = link.fast.register_script(scripts.PUBLISH)
        sim.subscribe(self._on_change)

    def stop(self) -> None:
        """Ask both loops to end; they do within a tick (or a blocking read) and write nothing more."""
        self.stopped = self.stopped or 'stop'

    def close(self) -> None:
        self.stopped = self.stopped or 'stop'
        with contextlib.suppress(ValueError):
            self.sim.unsubscribe(self._on_change)

    # ---- changes -> entries -------------------------------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        epoch, sim = self.lease.epoch or 0, self.sim
        if change.structure:
            self._pending.append(Entry(change.version, epoch, 'structure', {}))
            self._structure = True
            self._events_sent = len(sim.events)  # a new list (or none): the snapshot written with this has them all
        else:
            first = self._events_sent
            added = new_events(first, sim.events[first:]) if len(sim.events) > first else None
            self._events_sent = len(sim.events)
            data = change_data(sim.tasks, sim.run, change, added)
            self._pending.append(Entry(change.version, epoch, 'change', data))
            self._structure = self._structure or change.run
            if change.run and sim.run is not None and sim.run.finished:
                # kept by reference: the simulator replaces (never changes) a finished run's tasks and events when
                # a new run or a reset comes, and anything that changes them first ends the run again
                self._ended = Ended(sim.run, sim.tasks, sim.events, dumps(history_row(sim)))
        if change.structure or change.run:
            self._last_step = self._clock()  # a run that starts between two ticks counts its time from now

    async def publish(self, *, command_id: str = '') -> None:
        """Send what is pending (or a tick entry) in one fenced script. Raises Fenced or Unpublished."""
        async with self._lock:
            if self.lease.epoch is None:
                raise Fenced('the lease was lost')
            now = self._clock()
            if not self._pending:
                self._pending.append(Entry(self.sim.version, self.lease.epoch or 0, 'tick',
                                           {'c': clock_of(self.sim.run)}))
            entries = list(self._pending)
            snapshot = self._structure or (self.sim.active and now - self._snapshot_at >= SNAPSHOT_EVERY_S)
            self._structure = False  # a change made while this publish waits sets it again
            keys = self.link.keys
            args: list[Any] = [self.lease.epoch, STREAM_LENGTH, keys.prefix, self.keep_runs, command_id, len(entries)]
            for entry in entries:
                args += [entry.version, entry.kind, dumps(entry.data)]
            ended = self._ended
            args += self._snapshot_args(ended) if snapshot else ['0', '', '', '', *self._runs_args(ended, None)]
            try:
                last = await self._publish(keys=[keys.epoch, keys.changes, keys.snapshot, keys.runs], args=args)
            except ResponseError as error:
                self._structure = self._structure or snapshot
                if 'FENCED' in str(error):
                    raise Fenced(str(error)) from None
                raise
            except UNREACHABLE as error:
                raise_if_cancelled()
                self._structure = self._structure or snapshot
                self.link.failed(error)
                raise Unpublished(str(error)) from None
            self.link.ok()
            del self._pending[:len(entries)]
            if self._ended is ended:
                self._ended = None
            if snapshot:
                self._snapshot_at = now
            self._tick_at = now
            self.published_version, self.published_entry = entries[-1].version, last

    def _snapshot_args(self, ended: Ended | None) -> list[Any]:
        """The snapshot, then the runs to store in the history: the current one, and one that ended and was
        replaced since the last publish."""
        sim, run = self.sim, self.sim.run
        snapshot = Snapshot(version=sim.version, epoch=self.lease.epoch or 0, run=run, settings=sim.settings,
                            runs_started=sim.newest_run_id, tasks=sim.tasks, saved_at=self._wall())
        tasks = tasks_text(sim.tasks) if run is not None else ''
        events = events_text(sim.events)
        current = None if run is None else (run.id, dumps(history_row(sim)), '', events)
        return ['1', snapshot.meta(), tasks, events, *self._runs_args(ended, current)]

    @staticmethod
    def _runs_args(ended: Ended | None, current: tuple | None) -> list[Any]:
        """The runs to store: `current` (its tasks '' stand for the snapshot's), after `ended` unless that is the
        same run (then `current` is newer)."""
        runs = [] if ended is None or (current is not None and current[0] == ended.run.id) else [ended.args()]
        if current is not None:
            runs.append(current)
        return [len(runs), *(value for run in runs for value in run)]

    # ---- the two loops --------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Tick and take commands until the lease is lost or a newer engine fences this one off."""
        commands = asyncio.create_task(self._take_commands(), name='taskdemo engine commands')
        try:
            await self._tick_loop()
        finally:
            self.close()  # the command loop sees it after its current read, and ends (it is not cancelled: see
            await asyncio.wait({commands}, timeout=BLOCK_MS / 1000 + 1)  # Mirror.paused)

    async def _tick_loop(self) -> None:
        try:
            await self._ticks()
        except Fenced as fenced:
            self.stopped = 'fenced'
            log.warning('a newer engine took over (%s); this process steps down', fenced)

    async def _ticks(self) -> None:
        with contextlib.suppress(Unpublished):
            await self.publish()  # the takeover itself: a snapshot at the new epoch
        while self.stopped is None:
            await asyncio.sleep(self.tick_s)
            if self.stopped is not None:
                return
            if not self.lease.valid():
                self.stopped = 'lease'
                log.warning('lease overdue by this process\'s own clock: it stops advancing the run')
                return
            now = self._clock()
            with contextlib.suppress(Unpublished):
                if self._pending:  # a publish failed: send those first, and do not advance past them
                    self._last_step = now
                    await self.publish()
                    continue
                dt, self._last_step = now - self._last_step, now
                self.sim.step(dt)
                if self._pending or self.sim.active or now - self._tick_at >= IDLE_TICK_EVERY_S:
                    await self.publish()

    async def _take_commands(self) -> None:
        keys = self.link.keys
        while self.stopped is None:
            try:
                answer = await self.link.blocking.xread({keys.commands: self._command_after}, count=20,
                                                        block=BLOCK_MS)
            except UNREACHABLE:
                raise_if_cancelled()
                await asyncio.sleep(0.25)
                continue
            if self.stopped is not None:
                return  # no longer the engine: the next one takes these commands
            for _stream, entries in answer or []:
                for command_id, fields in entries:
                    if self.stopped is not None:
                        return
                    self._command_after = command_id
                    await self._handle(command_id, fields)

    async def _handle(self, command_id: str, fields: dict[str, str]) -> None:
        if self._wall() * 1000 - int(command_id.split('-')[0]) > COMMAND_LIFETIME_S * 1000:
            return  # its sender gave up long ago; doing it now would surprise everybody
        try:
            done = execute(self.sim, fields['op'], json.loads(fields['args']), fields.get('source', ''))
            reply: dict[str, Any] = {'ok': done}
        except ControlError as error:
            reply = {'status': error.status, 'detail': error.detail}
        try:
            await self.publish(command_id=command_id)
        except (Unpublished, Fenced):
            reply = {'status': 503, 'detail': 'The run could not be saved to Redis just now; try again.',
                     'retry_after': 1}
        try:
            key = self.link.keys.reply(fields['reply'])
            await self.link.fast.pipeline(transaction=False).lpush(key, dumps(reply)) \
                .expire(key, REPLY_LIFETIME_S).execute()
        except UNREACHABLE:
            pass  # the sender answers 503 when no reply comes


class Ended:
    """A run as it ended (its history row then, its tasks and events), to be stored even if a reset or a new run
    replaces it before the next publish."""

    def __init__(self, run: Run, tasks: list[Task], events: list[RunEvent], row: str) -> None:
        self.run, self.tasks, self.events, self.row = run, tasks, events, row

    def args(self) -> tuple:
        return self.run.id, self.row, tasks_text(self.tasks), events_text(self.events)


def history_row(sim: Simulator) -> dict[str, Any]:
    """The run as the history lists it (the columns of the SQLite store's runs table)."""
    run, counts = sim.run, sim.counts
    assert run is not None
    return {'id': run.id, 'started_at': run.started_at, 'settings': run.settings.as_dict(), 'seed': run.seed,
            'state': run.state.value, 'elapsed_s': run.elapsed_s, 'finished_s': run.finished_s,
            'total': len(sim.tasks), 'completed': counts.completed, 'failed': counts.failed,
            'cancelled': counts.cancelled}
