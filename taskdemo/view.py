"""The reading side of a run, as the pages, the routes and the `/ws` stream use it: `RunView`.

The simulator is one (it advances the run in this process); a copy of a run that another process advances is
another. Whatever reads only is typed against `RunView`, so it cannot tell which one it shows; whatever changes the
run goes through the command interface (control.py).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .model import Change, Counts, Run, RunEvent, RunState, Task
from .settings import RunSettings


class RunFigures:
    """What a view works out from its run, tasks and counts, the same way for the simulator and a replayed moment
    (replay.Moment)."""

    run: Run | None
    tasks: list[Task]
    counts: Counts

    @property
    def state(self) -> RunState:
        return self.run.state if self.run else RunState.IDLE

    @property
    def active(self) -> bool:
        return self.state == RunState.RUNNING

    @property
    def total(self) -> int:
        return len(self.tasks)

    @property
    def percent(self) -> float:
        """Finished tasks (completed, failed or cancelled) over all tasks, 0-100."""
        return 100.0 * self.counts.finished / self.total if self.tasks else 0.0


class RunView(Protocol):
    """A run as it stands, and its changes as they happen. Read it on the event loop only.

    `version` counts changes; each one is reported once to every listener (`subscribe`), in order, as a `Change`
    whose `version` is the view's version right after it.
    """

    @property
    def run(self) -> Run | None: ...

    @property
    def tasks(self) -> list[Task]: ...

    @property
    def counts(self) -> Counts: ...

    @property
    def events(self) -> list[RunEvent]:
        """What happened to the run shown so far (model.RunEvent), in order: what a replay of it needs besides its
        tasks. Empty without a run."""
        ...

    @property
    def version(self) -> int: ...

    @property
    def settings(self) -> RunSettings:
        """The settings the next run starts with."""
        ...

    @property
    def state(self) -> RunState: ...

    @property
    def active(self) -> bool: ...

    @property
    def total(self) -> int: ...

    @property
    def percent(self) -> float:
        """Finished tasks over all tasks, 0-100."""
        ...

    @property
    def newest_run_id(self) -> int: ...

    @property
    def stalled_ids(self) -> frozenset[int]:
        """The running tasks flagged `stalled` (they have not moved for longer than `model.stall_after_s`)."""
        ...

    def changes_since(self, version: int) -> set[int] | None:
        """Ids of the tasks changed after `version`; None when that is too long ago or the structure changed."""
        ...

    def failed_tasks(self, error: str | None = None) -> list[int]: ...

    def error_groups(self) -> list[tuple[str, list[int]]]: ...

    def subscribe(self, listener: Callable[[Change], object]) -> None:
        """Call `listener(change)` after every change, on the event loop."""
        ...

    def unsubscribe(self, listener: Callable[[Change], object]) -> None: ...
