"""Past runs, as the history routes and the History panel read them: the `History` interface, and `SqliteHistory`,
which reads the SQLite store through the recorder's writer thread (so a read sees every write queued before it)."""
from __future__ import annotations

from typing import Protocol

from .model import RunEvent, Task
from .recorder import Recorder
from .store import RunRow


class History(Protocol):
    """The runs kept, newest first; at most `keep_runs` of them."""

    keep_runs: int

    async def runs(self, limit: int | None = None) -> list[RunRow]:
        """The newest `limit` runs (all of them for None), newest first."""
        ...

    async def run(self, run_id: int) -> RunRow | None: ...

    async def tasks(self, run_id: int) -> list[Task]:
        """Every task of the run, by id, each with all of its earlier attempts and its hang (`stall_at` to
        `stalled`, as the run left it)."""
        ...

    async def events(self, run_id: int) -> list[RunEvent]:
        """What happened to the run (model.RunEvent), in order; none for a run stored before events were kept."""
        ...


class SqliteHistory:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.keep_runs = recorder.store.keep_runs

    async def runs(self, limit: int | None = None) -> list[RunRow]:
        return await self.recorder.call(self.recorder.store.runs, limit)

    async def run(self, run_id: int) -> RunRow | None:
        return await self.recorder.call(self.recorder.store.run, run_id)

    async def tasks(self, run_id: int) -> list[Task]:
        return await self.recorder.call(self.recorder.store.tasks, run_id)

    async def events(self, run_id: int) -> list[RunEvent]:
        return await self.recorder.call(self.recorder.store.events, run_id)
