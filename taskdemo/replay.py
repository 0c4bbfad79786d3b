"""A run put back as it was at any moment: `Replay(recording).at(seconds)` is the board then, as a `Moment` that
reads like the live run (a `RunView`), so the `/status` shape, the grid's snapshot, the counters and the failure
groups all come out of the code that shows the live run.

Nothing is recorded per tick. A moment is worked out from what is stored anyway: every attempt of every task (when
it started and ended, how, at what percent), its plan (duration, where it fails, where it hangs; an earlier
attempt's hang is planned again from the run's seed), and the run's few events (model.RunEvent), which say when a
retried task joined the queue again and when the run was stopped and resumed. A task's percent at a moment is the
simulator's own arithmetic on those (`simulator.Simulator.step`), so at any moment the live board showed (a step's
`elapsed_s`, which `/status` gives exactly) the replay shows the same board.

Where the store does not hold enough, the moment says so (`exact`, `note`) and gives the nearest it can:
- a task that ran across a crash (found on the restart: no clean stop) and was resumed: its start was moved to fit
  the percent last saved, up to 1.5 s older than the run's clock, so before the crash it may show a lower percent
  or still waiting (a clean stop moves nothing: `Simulator.resume`);
- a run stored by a taskdemo before events: when a retried task was queued again is not known (its next attempt is
  taken to have been queued when it started);
- a live run's task retried more than `model.MAX_EARLIER` times: its oldest attempts are not in memory.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import count

from .model import (
    COUNT_FIELD,
    STATE_AFTER,
    Attempt,
    Counts,
    EventKind,
    Run,
    RunEvent,
    RunState,
    Task,
    TaskStatus,
    crash_noted,
    error_groups,
    failed_ids,
    plan_retry,
    plan_tasks,
    stall_after_s,
    timeout_message,
)
from .view import RunFigures

EPSILON = 1e-9  # as in the simulator's percent arithmetic
RETRIES = {EventKind.RETRY, EventKind.RETRY_TASK}
MARKER_KINDS = {EventKind.CANCEL: 'cancel', EventKind.CANCEL_TASK: 'cancel', EventKind.RETRY: 'retry',
                EventKind.RETRY_TASK: 'retry', EventKind.RESUME: 'resume', EventKind.INTERRUPTED: 'interrupted'}


@dataclass(frozen=True)
class Recording:
    """What a replay is made from: the run (its `elapsed_s` is how far it goes: its end, or now for a live run),
    every task with its earlier attempts, and the run's events."""

    run: Run
    tasks: list[Task]
    events: list[RunEvent]
    live: bool = False  # the run is the one being shown live (its tasks keep only their last few attempts)

    @classmethod
    def stored(cls, run: Run, tasks: list[Task], events: list[RunEvent]) -> Recording:
        """A run read back from the history. One stored as running that is not the live run was cut off without a
        clean stop: it ends interrupted where its last write left it, as a restart would have found it."""
        if run.state == RunState.RUNNING:
            run = replace(run, state=RunState.INTERRUPTED, finished_s=run.elapsed_s)
            events = crash_noted(run, events)
        return cls(run, tasks, events)


@dataclass(slots=True)
class Span:
    """One attempt of a task, as a replay reads it. Times are real seconds since the run started; `ended` is when
    it came to `status` (for an attempt cut off by an interruption that was never resumed: the interruption). Not
    changed once made (not frozen only because a frozen dataclass takes three times as long to make), but for the
    tasks it shows at moments when it is not running, made the first time one is asked for: the same at every such
    moment, so a scrub makes new `Task`s only for the tasks running then (nobody but the simulator writes a task)."""

    number: int
    queued: float
    started: float | None
    ended: float | None
    status: TaskStatus
    progress: int  # where it ended (or stands, for a live run's running task)
    cap: int  # the highest percent it showed while it ran
    duration: float
    fail_at: int | None
    error: str | None
    stall_at: int | None
    stall_for: float | None
    earlier: list[Attempt] | None = None  # the attempts before this one, as its task shows them
    ahead: Task | None = None  # the task before this attempt was queued (the oldest known: nothing better)
    waiting: Task | None = None  # ... once queued, until it started
    done: Task | None = None  # ... once it ended


class Moment(RunFigures):
    """The board at one moment of a replay, read as the live run is read (`view.RunView`): nothing in it ever
    changes, so it has no listeners. `exact` is False where the store could not say exactly (`note` says why)."""

    def __init__(self, run: Run, tasks: list[Task], counts: Counts, stalled: frozenset[int], *, at: float,
                 exact: bool, note: str) -> None:
        self.run = run
        self.tasks = tasks
        self.counts = counts
        self.stalled_ids = stalled
        self.at = at
        self.exact = exact
        self.note = note
        self.version = next(_MOMENTS)  # every moment is a state of its own for the caches keyed by version
        self.settings = run.settings
        self.newest_run_id = run.id

    def changes_since(self, version: int) -> set[int] | None:
        return set() if version == self.version else None

    def failed_tasks(self, error: str | None = None) -> list[int]:
        return failed_ids(self.tasks, error)

    def error_groups(self) -> list[tuple[str, list[int]]]:
        return error_groups(self.tasks)

    def subscribe(self, listener: object) -> None:
        """A moment never changes: nobody is ever called."""

    def unsubscribe(self, listener: object) -> None:
        """See subscribe."""


_MOMENTS = count(-1, -1)  # negative: never a live view's version


class Replay:
    """Moments of one recorded run. Made once per recording (a pass over its tasks); each `at` is another pass."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        run = recording.run
        self.run = run
        self.end = run.elapsed_s
        self.speed = run.settings.speed
        self._timeout = run.settings.task_timeout
        self._events = sorted(recording.events, key=lambda event: event.at_s)  # stable: same moment, same order
        self._event_times = [event.at_s for event in self._events]
        self._retried: dict[int, list[float]] = {}  # task id -> when each of its retries queued it again
        for event in self._events:
            if event.kind in RETRIES:
                for retried in event.tasks:
                    self._retried.setdefault(retried, []).append(event.at_s)
        self._plans: list[Task] | None = None  # attempt 1 of every task, planned again from the seed when needed
        self.unknown_retries = 0  # retried attempts whose queueing no event records
        self.missing_attempts = 0  # tasks whose oldest attempts the recording lacks
        self._oldest_known = 0.0  # ... and the first moment from which every task's attempt is known
        self.spans = [self._spans_of(task) for task in recording.tasks]
        # each interruption found after a crash that a resume followed: (when, how many attempts ran across it);
        # a clean stop moves no task's start (`Simulator.resume`)
        self._interruptions = [
            (event.at_s, sum(_ran_across(span, event.at_s) for spans in self.spans for span in spans))
            for i, event in enumerate(self._events) if event.kind == EventKind.INTERRUPTED and event.crash and
            any(later.kind == EventKind.RESUME for later in self._events[i + 1:])]

    # ---- reading ----------------------------------------------------------------------------------------------

    def at(self, seconds: float) -> Moment:
        """The board `seconds` after the run started (0 to `end`): everything that happened up to and at that
        moment. A moment a run ended and was retried at (a finished run's clock stands still) shows the retry."""
        t = min(max(seconds, 0.0), self.end)
        now, speed = t * self.speed, self.speed
        counts = Counts()
        stalled: set[int] = set()
        tasks = []
        for task_id, spans in enumerate(self.spans):
            span = spans[-1] if len(spans) == 1 or spans[-1].queued <= t else _in_effect(spans, t)
            task = self._task_at(task_id, span, spans, t, now, speed)
            if task.stalled:
                stalled.add(task_id)
            tasks.append(task)
        for task in tasks:
            field = COUNT_FIELD[task.status]
            setattr(counts, field, getattr(counts, field) + 1)
        approximate = self._approximate(t)
        return Moment(self._run_at(t), tasks, counts, frozenset(stalled), at=t, exact=not approximate,
                      note=' '.join(approximate))

    def markers(self) -> list[tuple[float, str]]:
        """Where things happened, in order: ('failure', 'cancel', 'retry', 'interrupted', 'resume', 'stall')."""
        marks = [(span.ended, 'failure') for spans in self.spans for span in spans
                 if span.status == TaskStatus.FAILED and span.ended is not None]
        marks += [(event.at_s, MARKER_KINDS[event.kind]) for event in self._events if event.kind in MARKER_KINDS]
        marks += [(flagged, 'stall') for spans in self.spans for span in spans
                  if (flagged := self._flagged_at(span)) is not None]
        return sorted(marks)

    def event_times(self) -> list[float]:
        """Every moment something happened (a task ended, a control action), once each, in order: what stepping
        by one event goes through."""
        times = {span.ended for spans in self.spans for span in spans if span.ended is not None}
        times.update(self._event_times)
        return sorted(time for time in times if 0 <= time <= self.end)

    # ---- one task ---------------------------------------------------------------------------------------------

    def _task_at(self, task_id: int, span: Span, spans: list[Span], t: float, now: float, speed: float) -> Task:
        if span.queued > t:  # before its oldest known attempt: nothing better than that one waiting
            if span.ahead is None:
                span.ahead = Task(id=task_id, duration=span.duration, fail_at=span.fail_at, attempt=span.number)
            return span.ahead
        earlier = span.earlier
        if earlier is None:
            earlier = span.earlier = [_attempt(done) for done in spans[:spans.index(span)]] \
                if span.number > spans[0].number else []
        ended = span.ended
        if ended is not None and ended <= t:
            if span.done is None:
                interrupted = span.status == TaskStatus.INTERRUPTED
                span.done = Task(id=task_id, duration=span.duration, fail_at=span.fail_at, status=span.status,
                                 progress=span.progress, started_s=span.started,
                                 finished_s=None if interrupted else ended, error=span.error, attempt=span.number,
                                 stall_at=span.stall_at, stall_for=span.stall_for, earlier=earlier)
            return span.done
        started = span.started
        if started is None or started > t:
            if span.waiting is None:
                span.waiting = Task(id=task_id, duration=span.duration, fail_at=span.fail_at, attempt=span.number,
                                    stall_at=span.stall_at, stall_for=span.stall_for, earlier=earlier)
            return span.waiting
        task = Task(id=task_id, duration=span.duration, fail_at=span.fail_at, status=TaskStatus.RUNNING,
                    started_s=started, attempt=span.number, stall_at=span.stall_at, stall_for=span.stall_for,
                    earlier=earlier)
        start, duration = started * speed, span.duration
        if span.stall_at is None:
            percent = min(100, int(100 * (now - start) / duration + EPSILON)) if duration > 0 else 100
        else:
            percent = self._hang(task, now, start, speed)
        task.progress = min(max(percent, 0), span.cap)
        return task

    def _hang(self, task: Task, now: float, start: float, speed: float) -> int:
        """The percent of a task with a planned hang, and its hang's times and flag, as `_step_hanging` has them."""
        assert task.stall_at is not None
        ran, duration = now - start, task.duration
        hang = task.stall_at * duration / 100
        length = math.inf if task.stall_for is None else task.stall_for
        if int(100 * ran / duration + EPSILON) < task.stall_at:
            return min(100, int(100 * ran / duration + EPSILON))
        task.stalled_from = (start + hang) / speed
        if now < start + hang + length:
            task.stalled = now > start + hang + stall_after_s(duration)
            return task.stall_at
        task.stalled_until = (start + hang + length) / speed
        return max(task.stall_at, min(100, int(100 * (ran - length) / duration + EPSILON)))

    def _flagged_at(self, span: Span) -> float | None:
        """When this attempt was first flagged stalled, if it ever was."""
        if span.stall_at is None or span.started is None:
            return None
        hang = span.stall_at * span.duration / 100
        flagged = (span.started * self.speed + hang + stall_after_s(span.duration)) / self.speed
        over = math.inf if span.stall_for is None else (span.started * self.speed + hang + span.stall_for) / self.speed
        last = min(over, math.inf if span.ended is None else span.ended, self.end)
        return flagged if flagged < last else None

    # ---- the run ----------------------------------------------------------------------------------------------

    def _run_at(self, t: float) -> Run:
        run = self.run
        state, finished_s = RunState.RUNNING, None
        if self._events:
            for event in self._events[:bisect.bisect_right(self._event_times, t)]:
                state = STATE_AFTER.get(event.kind, state)
                if event.kind in {EventKind.COMPLETED, EventKind.CANCEL, EventKind.INTERRUPTED}:
                    finished_s = event.at_s
        elif t >= self.end:  # a run stored before events: it ran until its end
            state = run.state
        if state == RunState.RUNNING:
            finished_s = None
        elif finished_s is None:
            finished_s = run.finished_s
        return Run(id=run.id, settings=run.settings, seed=run.seed, started_at=run.started_at, elapsed_s=t,
                   state=state, finished_s=finished_s)

    def _approximate(self, t: float) -> list[str]:
        notes = []
        for at_s, resumed in self._interruptions:
            if t < at_s and resumed:
                notes.append(
                    f'The app stopped without a clean shutdown at about {at_s:.1f} s, and {resumed:,} tasks resumed '
                    'from the percent last saved (up to 1.5 s older): before then, those tasks may show a lower '
                    'percent, or still waiting, and what ended in the last 1.5 s may show later.')
        if self.unknown_retries:
            notes.append(f'When {self.unknown_retries:,} retried attempts were queued was not recorded (a run '
                         'stored before taskdemo kept events): each is shown waiting from when it started.')
        if self.missing_attempts and t < self._oldest_known:
            notes.append(f'{self.missing_attempts:,} tasks were retried more often than the live run keeps; their '
                         'oldest attempts are not shown.')
        return notes

    # ---- building ---------------------------------------------------------------------------------------------

    def _spans_of(self, task: Task) -> list[Span]:
        """The task's attempts, oldest first, with when each was queued."""
        queued_at = self._retried.get(task.id, [])
        attempts = task.earlier
        first = attempts[0].number if attempts else task.attempt
        if first != 1:
            self.missing_attempts += 1
            self._oldest_known = max(self._oldest_known, self._queued(
                queued_at, first, attempts[0].started_s if attempts else task.started_s))
        spans = [self._earlier_span(task.id, attempt, self._queued(queued_at, attempt.number, attempt.started_s))
                 for attempt in attempts]
        spans.append(self._current_span(task, self._queued(queued_at, task.attempt, task.started_s)))
        return spans

    def _queued(self, queued_at: list[float], number: int, started: float | None) -> float:
        if number == 1:
            return 0.0
        if number - 2 < len(queued_at):
            return queued_at[number - 2]
        self.unknown_retries += 1
        return started if started is not None else self.end

    def _current_span(self, task: Task, queued: float) -> Span:
        status, ended = task.status, task.finished_s
        if status == TaskStatus.RUNNING and not self.recording.live:  # cut off with its run (`Recording.stored`)
            status = TaskStatus.INTERRUPTED
        if status == TaskStatus.INTERRUPTED:
            ended = self.run.finished_s if self.run.finished_s is not None else self.end
        elif status in {TaskStatus.RUNNING, TaskStatus.PENDING}:
            ended = None
        return Span(number=task.attempt, queued=queued, started=task.started_s, ended=ended, status=status,
                    progress=task.progress, cap=_cap(status, task.progress, task.error, self._timeout),
                    duration=task.duration, fail_at=task.fail_at, error=task.error, stall_at=task.stall_at,
                    stall_for=task.stall_for)

    def _earlier_span(self, task_id: int, attempt: Attempt, queued: float) -> Span:
        plan = self._plan(task_id, attempt.number)
        status = TaskStatus.FAILED if attempt.error else TaskStatus.CANCELLED
        return Span(number=attempt.number, queued=queued, started=attempt.started_s, ended=attempt.finished_s,
                    status=status, progress=attempt.progress,
                    cap=_cap(status, attempt.progress, attempt.error, self._timeout), duration=attempt.duration,
                    fail_at=plan.fail_at, error=attempt.error, stall_at=plan.stall_at, stall_for=plan.stall_for)

    def _plan(self, task_id: int, number: int) -> Task:
        """An earlier attempt's plan, as the run's seed made it (the store keeps no hang of earlier attempts)."""
        settings, seed = self.run.settings, self.run.seed
        if number == 1:
            if self._plans is None:
                self._plans = plan_tasks(settings, seed)
            return self._plans[task_id]
        return plan_retry(Task(id=task_id, attempt=number), settings, seed)



def replay_of(run: Run, tasks: list[Task], events: Iterable[RunEvent], *, live: bool = False) -> Replay:
    events = list(events)
    return Replay(Recording(run, tasks, events, live) if live else Recording.stored(run, tasks, events))


def _in_effect(spans: list[Span], t: float) -> Span:
    """The attempt of a retried task in effect at `t`: the last one queued by then (the oldest known, before)."""
    chosen = spans[0]
    for span in spans:
        if span.queued > t:
            break
        chosen = span
    return chosen


def _attempt(span: Span) -> Attempt:
    return Attempt(number=span.number, duration=span.duration, progress=span.progress, started_s=span.started,
                   finished_s=span.ended, error=span.error)


def _cap(status: TaskStatus, progress: int, error: str | None, timeout: float | None) -> int:
    """The highest percent an attempt showed while it ran: one short of where it completed or failed as planned
    (it ended the moment it got there); where it was cut short (cancelled, timed out, interrupted), that percent."""
    if status == TaskStatus.COMPLETED:
        return 99
    if status == TaskStatus.FAILED and not (timeout is not None and error == timeout_message(timeout)):
        return max(progress - 1, 0)
    return progress


def _ran_across(span: Span, at_s: float) -> bool:
    """The attempt was running at `at_s` (an interruption): its start was moved when it was resumed. One that started
    or ended at that very moment counts too (a task at 0 % when the app was killed starts again at the crash)."""
    return span.started is not None and span.started <= at_s and (span.ended is None or span.ended >= at_s)
