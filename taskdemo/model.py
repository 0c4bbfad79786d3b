"""The records of a run: task and run states, tasks, runs, the changes the simulator reports, and how a seed
plans a run. Plain data; the simulator (simulator.py) is the only one that changes them."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
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
    attempt: int = 1  # 1 for the first run of the task; each retry adds one
    # a hang, as the plan has it: the percent at which the task stops moving, and for how many simulated seconds
    # (None: for good, until its time limit or a cancel ends it); no hang when stall_at is None
    stall_at: int | None = None
    stall_for: float | None = None
    stalled_from: float | None = None  # real seconds since the run started when it stopped moving (the hang began)
    stalled_until: float | None = None  # ... and when it moved again; None while it hangs or if it never did
    stalled: bool = False  # it has not moved for longer than `stall_after_s` and still runs: the board warns
    # the attempts before this one, oldest first: the last MAX_EARLIER of them (the store keeps every one)
    earlier: list[Attempt] = field(default_factory=list)


MAX_EARLIER = 10  # earlier attempts a task keeps in the live state, which every snapshot carries


@dataclass(frozen=True, slots=True)
class Attempt:
    """One earlier attempt of a task, kept when the task is retried."""

    number: int
    duration: float
    progress: int
    started_s: float | None
    finished_s: float | None
    error: str | None

    def as_dict(self) -> dict:
        return asdict(self)


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


class EventKind(StrEnum):
    """What happened to a run, as its event log keeps it (`RunEvent`). A task finishing or failing is not an
    event here: the task's own times record it."""

    START = 'start'
    CANCEL = 'cancel'  # the whole run
    COMPLETED = 'completed'  # its last unfinished task ended
    RETRY = 'retry'  # failed tasks of a finished run went again (`tasks`)
    CANCEL_TASK = 'cancel_task'
    RETRY_TASK = 'retry_task'
    INTERRUPTED = 'interrupted'  # the app stopped mid-run; `crash`: it was found so on a restart (no clean stop)
    RESUME = 'resume'
    RESET = 'reset'  # the board was cleared: the run's last event (a running run is cancelled just before)
    MOVED = 'moved'  # in a cluster: another process took the run over (`source`: which)


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One thing that happened to a run, at `at_s` (real seconds since it started, its `elapsed_s` then) and `wall`
    (seconds since the epoch). Replays read them for what the tasks' times do not say: when a retried task joined
    the queue again, when the run was stopped and resumed."""

    at_s: float
    kind: EventKind
    wall: float
    tasks: tuple[int, ...] = ()  # the tasks it named (retry, cancel_task, retry_task)
    crash: bool = False  # INTERRUPTED only: the run was found running in the store after the app stopped
    source: str = ''  # who did it (activity.source_words): 'tab:7f3', 'api:127.0.0.1', 'token'; '' for the run itself

    def as_dict(self) -> dict:
        return {'at_s': self.at_s, 'kind': self.kind.value, 'wall': self.wall, 'tasks': list(self.tasks),
                'crash': self.crash, 'source': self.source}

    @classmethod
    def of(cls, record: dict) -> RunEvent:
        return cls(at_s=record['at_s'], kind=EventKind(record['kind']), wall=record['wall'],
                   tasks=tuple(record.get('tasks', ())), crash=bool(record.get('crash', False)),
                   source=record.get('source', ''))


# the run's state after each kind of event (a retried task of a finished run makes it run again)
STATE_AFTER = {
    EventKind.START: RunState.RUNNING, EventKind.CANCEL: RunState.CANCELLED, EventKind.COMPLETED: RunState.COMPLETED,
    EventKind.RETRY: RunState.RUNNING, EventKind.RETRY_TASK: RunState.RUNNING,
    EventKind.INTERRUPTED: RunState.INTERRUPTED, EventKind.RESUME: RunState.RUNNING,
}


def moment_at(run: Run, events: list[RunEvent], wall: float) -> tuple[RunState, float]:
    """The run's state and elapsed time at `wall` (seconds since the epoch), as a page connected then saw it, from
    the run's log: its time runs on from an event that leaves it running, and stands still after one that stops
    it. An interruption found after a crash (`crash`) is left out: it is logged at the last moment saved, and the
    crash came later, after anything a connected page saw."""
    state, last = RunState.IDLE, None
    for event in events:
        if event.wall > wall:
            break
        if not event.crash:
            state, last = STATE_AFTER.get(event.kind, state), event
    if last is None:
        return RunState.IDLE, 0.0
    elapsed = last.at_s + (wall - last.wall if state == RunState.RUNNING else 0.0)
    return state, min(elapsed, run.elapsed_s)


def crash_noted(run: Run, events: list[RunEvent]) -> list[RunEvent]:
    """The events of a run as a restart gives it back: one found interrupted whose log does not end so was cut off
    without a clean stop (a crash, a kill), and gets the interruption it could not write, at its last saved moment."""
    if run.state == RunState.INTERRUPTED and (not events or events[-1].kind != EventKind.INTERRUPTED):
        return [*events, RunEvent(at_s=run.elapsed_s, kind=EventKind.INTERRUPTED, wall=run.started_at + run.elapsed_s,
                                  crash=True)]
    return list(events)


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


def failed_ids(tasks: list[Task], error: str | None = None) -> list[int]:
    """Ids of the failed tasks, or of those that failed with exactly `error`."""
    return [task.id for task in tasks if task.status == TaskStatus.FAILED and (error is None or task.error == error)]


def error_groups(tasks: list[Task]) -> list[tuple[str, list[int]]]:
    """The failed tasks grouped by error message, the largest group first."""
    groups: dict[str, list[int]] = {}
    for task_id in failed_ids(tasks):
        groups.setdefault(tasks[task_id].error or 'failed', []).append(task_id)
    return sorted(groups.items(), key=lambda group: (-len(group[1]), group[0]))


def stall_after_s(duration: float) -> float:
    """How long (simulated seconds) a running task's percent may stand still before it counts as stalled: 5 s, or
    three of its usual intervals between steps (a percent takes duration / 100) if that is longer."""
    return max(STALL_AFTER_MIN_S, 3 * duration / 100)


STALL_AFTER_MIN_S = 5.0


def timeout_message(limit: float) -> str:
    return f'timed out after {limit:g} s'


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


# what a simulated failure says; grouping failures by message shows a handful of kinds, as real work does
FAILURE_KINDS = (
    'Simulated failure: connection reset by peer',
    'Simulated failure: upstream timed out',
    'Simulated failure: out of memory',
    'Simulated failure: checksum mismatch',
    'Simulated failure: disk quota exceeded',
)


def failure_message(fail_at: int) -> str:
    return FAILURE_KINDS[fail_at % len(FAILURE_KINDS)]


STALL_RECOVERS = 0.5  # the share of hangs that end by themselves
STALL_LENGTH = (0.5, 6.0)  # a hang that ends lasts this many times `stall_after_s`: some too short to be flagged


def plan_tasks(settings: RunSettings, seed: int) -> list[Task]:
    """The tasks of a run, as its seed decides them: how long each takes, where it fails and where it hangs, if it
    does. Hangs draw from a stream of their own, so that a seed plans the same durations and failures as it did
    before hangs existed."""
    rng, hangs = random.Random(seed), random.Random(f'{seed}/hangs')
    return [_plan_hang(_plan(Task(id=task_id), settings, rng), settings, hangs) for task_id in range(settings.tasks)]


def plan_retry(task: Task, settings: RunSettings, seed: int) -> Task:
    """The task's next attempt, planned from the run's seed, the task and the attempt: a retried run retries the
    same way again."""
    rng = random.Random(f'{seed}/{task.id}/{task.attempt}')
    return _plan_hang(_plan(task, settings, rng), settings, rng)


def _plan(task: Task, settings: RunSettings, rng: random.Random) -> Task:
    # draw the same numbers for every task whatever the settings, so that a seed picks the same durations at
    # another failure rate
    task.duration = rng.uniform(settings.min_duration, settings.max_duration)
    fail_point = rng.randint(1, 99)
    task.fail_at = fail_point if rng.random() < settings.failure_rate else None
    return task


def _plan_hang(task: Task, settings: RunSettings, rng: random.Random) -> Task:
    # the same four draws whatever the settings, as in _plan
    hangs, point, recovers, length = rng.random(), rng.randint(1, 99), rng.random(), rng.uniform(*STALL_LENGTH)
    # a task that fails first never gets to its hang
    task.stall_at = point if hangs < settings.stall_rate and (task.fail_at is None or point < task.fail_at) else None
    task.stall_for = length * stall_after_s(task.duration) if task.stall_at is not None and \
        recovers < STALL_RECOVERS else None
    task.stalled_from = task.stalled_until = None
    task.stalled = False
    return task
