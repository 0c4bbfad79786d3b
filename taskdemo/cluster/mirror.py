"""A board process's copy of the run: the snapshot first, then every stream entry after the one it names, each
applied at exactly the next version. Anything that does not follow (a trimmed stream, a version jump, a new
epoch, a new run) reloads the snapshot; nothing is guessed. When Redis is away the copy keeps its last state,
and catches up from the snapshot when Redis is back."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..simulator import Simulator
from .link import BLOCK_MS, UNREACHABLE, Link, raise_if_cancelled
from .replica import Gap, adopt, apply
from .wire import Entry, Snapshot

log = logging.getLogger('taskdemo.cluster')

READ_COUNT = 1000


class Mirror:
    def __init__(self, sim: Simulator, link: Link, *, wall: Callable[[], float] = time.time) -> None:
        self.sim = sim
        self.link = link
        self.epoch: int | None = None  # of the entries followed; None before the first snapshot
        self.after = '0-0'  # the last entry applied (or the one the snapshot was current to)
        self.entry_ms = 0  # when that entry was added, by Redis's clock
        self.command_after = '0-0'  # the newest command the engine handled, as the snapshot says
        self.reloads = 0
        self.moved_at: float | None = None  # wall clock of the last change of epoch seen (the run moved)
        # while this process is the engine, `follow` applies nothing. It is paused rather than cancelled: a task
        # cancelled inside a blocking redis-py read can hang on in that read (seen on Python 3.11)
        self.paused = False
        self._wall = wall

    async def load(self, *, following: bool = False) -> bool:
        """Adopt the snapshot; False when there is none yet (a fresh Redis), or when `following` and this process
        became the engine while the snapshot was on its way (it must not go back to it). Raises UNREACHABLE
        errors."""
        values = await self.link.fast.hgetall(self.link.keys.snapshot)
        if 'meta' not in values or (following and self.paused):
            return False
        snapshot = Snapshot.parse(values['meta'], values.get('tasks'), values.get('entry', '0-0'),
                                  values.get('events'))
        if self.epoch is not None and snapshot.epoch != self.epoch:
            self.moved_at = self._wall()
        adopt(self.sim, snapshot)
        self.epoch, self.after = snapshot.epoch, snapshot.entry
        self.entry_ms = int(snapshot.entry.split('-')[0])
        self.command_after = values.get('command', '0-0')
        self.reloads += 1
        return True

    async def follow(self) -> None:
        """Apply entries as they come, until cancelled. Redis going away pauses it; coming back reloads."""
        away = False
        while True:
            if self.paused:
                await asyncio.sleep(0.05)
                continue
            try:
                if away or self.epoch is None:
                    await self.load(following=True)
                    self.link.ok()
                    away = False
                await self.read(block=BLOCK_MS)
                self.link.ok()
            except UNREACHABLE as error:
                raise_if_cancelled()
                self.link.failed(error)
                away = True
                await asyncio.sleep(self.link.backoff_s())

    async def read(self, *, block: int | None = None) -> int:
        """Read and apply what the stream holds after `after` (waiting up to `block` ms for something);
        returns the number of entries read. A gap reloads the snapshot and reads on from the entry it names,
        once per call: a second gap at once waits for the next call. Raises UNREACHABLE errors."""
        read, reloaded = 0, False
        while True:
            client = self.link.blocking if block and not read else self.link.fast
            answer = await client.xread({self.link.keys.changes: self.after}, count=READ_COUNT,
                                        block=block if client is self.link.blocking else None)
            if block and self.paused:
                return read  # this process became the engine while the read waited: it applies nothing now
            entries = [entry for _stream, batch in answer or [] for entry in batch]
            gap = False
            for entry_id, fields in entries:
                read += 1
                entry = Entry.parse(entry_id, fields)
                try:
                    if entry.kind == 'structure' or entry.epoch != self.epoch:
                        raise Gap(f'{entry.kind} at epoch {entry.epoch}')
                    apply(self.sim, entry)
                except Gap:
                    gap = True
                    break
                self.after, self.entry_ms = entry.id, entry.millis
            if gap and not reloaded:
                await self.load(following=bool(block))  # then on from the entry the snapshot names
                reloaded = True
                continue
            if gap or len(entries) < READ_COUNT:
                return read

    async def catch_up(self) -> None:
        """Read to the end of the stream now (before taking over: no older engine can add to it any more)."""
        if self.epoch is None:
            await self.load()
        while await self.read():
            pass  # a second gap in one read returns early; read on until the stream has nothing more
