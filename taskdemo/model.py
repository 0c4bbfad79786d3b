"""The records of a run: task and run states, tasks, runs, the changes the simulator reports, and how a seed
plans a run. Plain data; the simulator (simulator.py) is the only one that changes them."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .settings import RunSettings


class TaskStatus(StrEnum):
    PENDING = 'pending'
    RUNNING = 'in_progress'  # the seed's wire name
    COMPLETED = 'completed'
    FAILED = 'failed'
    CANCELLED = 'cancelled'
    INTERRUPTED = 'interrupted'

    @property
    def finished(self) -> bool:
        return self in {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}


class RunState(StrEnum):
    IDLE = 'idle'
    RUNNING = 'running'
    COMPLETED = 'completed'
    CANCELLED = 'cancelled'
    INTERRUPTED = 'interrupted'  # the app stopped (or crashed) mid-run; `resume()` goes on from there


@dataclass(slots=True)
class Task:
    """One task. Only the simulator writes these fields; everybody else reads them."""

    id: int
    duration: float = 0.0  # simulated seconds from start to 100 %
    fail_at: int | None = None  # the percent at which this task fails, or None if it succeeds
    status: TaskStatus = TaskStatus.PENDING
    progress: int = 0  # whole percent, never goes back
    started_s: float | None = None  # real seconds since the run started
    finished_s: float | None = None
    error: str | None = None


@dataclass(slots=True)
class Run:
    id: int
    settings: RunSettings
    seed: int  # the seed actually used (drawn at random when the settings have none)
    started_at: float  # wall clock, seconds since the epoch
    elapsed_s: float = 0.0  # real seconds the run has been going
    state: RunState = RunState.RUNNING
    finished_s: float | None = None

    @property
    def finished(self) -> bool:
        return self.state in {RunState.COMPLETED, RunState.CANCELLED, RunState.INTERRUPTED}


@dataclass(frozen=True, slots=True)
class Change:
    """What one transition changed: the ids of tasks whose display changed (`transitions`: those whose status
    changed, a subset), and whether the run as a whole did (a new run, a reset, a state change). `structure`
    means every task may have changed, the count included."""

    version: int
    tasks: frozenset[int] = frozenset()
    transitions: frozenset[int] = frozenset()
    run: bool = False
    structure: bool = False


class RunActiveError(RuntimeError):
    """A run is already active; it was left untouched."""


ProgressFunction = Callable[[Task, float], int]


def linear_progress(task: Task, simulated_s: float) -> int:
    """The simulated job: progress grows evenly from 0 to 100 % over the task's duration."""
    # the tiny epsilon keeps 0.29999999 from showing as 29 % when the schedule says 30 %
    return min(100, int(100 * simulated_s / task.duration + 1e-9)) if task.duration > 0 else 100


@dataclass
class Counts:
    pending: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    interrupted: int = 0

    @property
    def finished(self) -> int:
        return self.completed + self.failed + self.cancelled


COUNT_FIELD = {
    TaskStatus.PENDING: 'pending',
    TaskStatus.RUNNING: 'running',
    TaskStatus.COMPLETED: 'completed',
    TaskStatus.FAILED: 'failed',
    TaskStatus.CANCELLED: 'cancelled',
    TaskStatus.INTERRUPTED: 'interrupted',
}


def plan_tasks(settings: RunSettings, seed: int) -> list[Task]:
    """The tasks of a run, as its seed decides them: how long each takes and where it fails, if it does."""
    rng = random.Random(seed)
    tasks = []
    for task_id in range(settings.tasks):
        # draw the same numbers for every task whatever the settings, so that a seed picks the same durations at
        # another failure rate
        duration = rng.uniform(settings.min_duration, settings.max_duration)
        fail_point = rng.randint(1, 99)
        tasks.append(Task(id=task_id, duration=duration,
                          fail_at=fail_point if rng.random() < settings.failure_rate else None))
    return tasks
