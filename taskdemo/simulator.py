"""The simulator that advances runs: no UI here, and the only writer of state (the records are in model.py).

Time is injected: `step(dt)` advances the active run by `dt` real seconds (the speed setting turns that into
simulated seconds), and `clock` only stamps the wall-clock start of a run. Randomness is injected too: every
run draws from its own `random.Random(seed)`, so a run with the same settings and seed is the same run.

The update path is built for 10,000 tasks: a heap holds, per running task, the simulated time at which its
displayed percent next changes, so a step touches only the tasks that change; the changes of one step are
emitted once, as one `Change`, to the listeners (`subscribe`): the recorder, the driver and the pages' one fan-out
(ui/fanout.py), which passes it on to every page. `_emit` is the one place that makes a change.
"""
from __future__ import annotations

import heapq
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from .model import (
    COUNT_FIELD,
    MAX_EARLIER,
    Attempt,
    Change,
    Counts,
    EventKind,
    ProgressFunction,
    Run,
    RunActiveError,
    RunEvent,
    RunState,
    Task,
    TaskStatus,
    error_groups,
    failed_ids,
    failure_message,
    linear_progress,
    plan_retry,
    plan_tasks,
    stall_after_s,
    timeout_message,
)
from .settings import RunSettings
from .view import RunFigures

# the records live in model.py; they are imported from here too, where the simulator is
__all__ = ['Attempt', 'Change', 'Counts', 'RetryError', 'Run', 'RunActiveError', 'RunState', 'Simulator', 'Task',
           'TaskStateError', 'TaskStatus', 'linear_progress', 'plan_tasks']

log = logging.getLogger(__name__)

CHANGE_LOG_LENGTH = 256
# a task's next percent is due this much of a percent early: the percent adds 1e-9 before it rounds down, so a due
# time without it could come a rounding after the percent is reached, and the board show it a tick later than the
# arithmetic (and a replay) says; looking a little early only finds the same percent
EARLY = 2e-9
END_EVENT = {RunState.COMPLETED: EventKind.COMPLETED, RunState.CANCELLED: EventKind.CANCEL,
             RunState.INTERRUPTED: EventKind.INTERRUPTED}


class RetryError(ValueError):
    """Nothing to retry, or a task asked for that did not fail; the message says which."""


class TaskStateError(ValueError):
    """A task asked for exists but cannot take the command now (a finished task cancelled, say); nothing changed."""


class Simulator(RunFigures):
    """Runs many simulated tasks at once. One instance is shared by every page, the API and the stream."""

    def __init__(self, settings: RunSettings | None = None, *,
                 clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None,
                 progress_of: ProgressFunction = linear_progress) -> None:
        self.settings = settings or RunSettings()
        self._default_seed = self.settings.seed  # every run without a seed of its own uses it (see start)
        self.run: Run | None = None
        self.tasks: list[Task] = []
        self.counts = Counts()
        self.version = 0
        self._listeners: list[Callable[[Change], object]] = []
        self._clock = clock
        self._rng = rng or random.Random()
        self._progress_of = progress_of
        self._due: list[tuple[float, int]] = []  # (simulated seconds of the next display change, task id)
        self._log: deque[Change] = deque(maxlen=CHANGE_LOG_LENGTH)
        self._waiting: deque[int] = deque()  # pending tasks of the active run, in the order they will start
        self._stalled: set[int] = set()  # ids of the tasks flagged `stalled`
        self._stalled_view: frozenset[int] | None = None  # the same, as handed out; None once a flag has moved
        self.events: list[RunEvent] = []  # what happened to the run shown, in order (read-only for everyone else)
        self._source = ''  # who the commands being carried out come from (`acting`)
        self._runs_started = 0
        self._set_tasks(self.settings.tasks)

    # ---- reading ----------------------------------------------------------------------------------------------

    @property
    def stalled_ids(self) -> frozenset[int]:
        """The running tasks that have not moved for longer than their `stall_after_s`."""
        if self._stalled_view is None:  # read after every change by the recorder and the pages: copied once per flip
            self._stalled_view = frozenset(self._stalled)
        return self._stalled_view

    @property
    def newest_run_id(self) -> int:
        """The number of the newest run this simulator has started or restored (or been told of); 0 for none."""
        return self._runs_started

    def changes_since(self, version: int) -> set[int] | None:
        """Ids of the tasks changed after `version`; None when that is too long ago or the structure changed."""
        if version == self.version:
            return set()
        if not self._log or self._log[0].version > version + 1:
            return None
        ids: set[int] = set()
        for change in self._log:
            if change.version > version:
                if change.structure:
                    return None
                ids |= change.tasks
        return ids

    def subscribe(self, listener: Callable[[Change], object]) -> None:
        """Call `listener(change)` after every change, in order, on the thread that made it (the event loop's)."""
        self._listeners = [*self._listeners, listener]  # a new list: an emit going on keeps the one it has

    def unsubscribe(self, listener: Callable[[Change], object]) -> None:
        self._listeners = [known for known in self._listeners if known != listener]

    # ---- control ----------------------------------------------------------------------------------------------

    @contextmanager
    def acting(self, source: str) -> Iterator[None]:
        """The events the commands inside make are `source`'s doing (activity.source_words): 'tab:7f3', ..."""
        before, self._source = self._source, source
        try:
            yield
        finally:
            self._source = before

    def start(self, settings: RunSettings | None = None) -> Run:
        """Start a new run with `settings`, or with the settings in force.

        The settings of a started run stay in force for later runs, except its seed: later runs go back to the
        simulator's own seed (the one it was made with, `--seed`/`TASKDEMO_SEED`; usually none, so each run draws
        one), so that a seed given for one run does not silently fix every later one. The run keeps its seed
        (`run.seed`, `run.settings.seed`). A finished run is replaced by the new one; an active run raises
        RunActiveError and is left untouched.
        """
        if self.active:
            raise RunActiveError(f'run {self.run.id} is still running; cancel or reset it first')
        chosen = settings if settings is not None else self.settings
        seed = chosen.seed if chosen.seed is not None else self._rng.randrange(2**32)
        self._runs_started += 1
        self.run = Run(id=self._runs_started, settings=chosen, seed=seed, started_at=self._clock())
        self.events = [RunEvent(at_s=0.0, kind=EventKind.START, wall=self.run.started_at, source=self._source)]
        self.settings = chosen if chosen.seed == self._default_seed else replace(chosen, seed=self._default_seed)
        self._set_tasks(chosen.tasks)
        self.tasks = plan_tasks(chosen, seed)
        self._waiting.extend(range(len(self.tasks)))
        self._fill_slots()
        self._emit(structure=True)
        self.step(0.0)  # zero-length tasks finish at once
        return self.run

    def reset(self) -> None:
        """Cancel any active run and put every task back to pending at 0 %. The run shown gets its last event,
        RESET, as a change of its own first: whatever follows the run's events sees it before the run goes."""
        self.cancel()
        if self.run is not None:
            self._event(EventKind.RESET)
            self._emit(run=True)
        self.run = None
        self.events = []
        self._set_tasks(self.settings.tasks)
        self._emit(structure=True)

    def cancel(self) -> bool:
        """Stop the active run: unfinished tasks end as cancelled. Returns False when no run was active."""
        if not self.active:
            return False
        changed = set()
        for task in self.tasks:
            if not task.status.finished:
                self._finish(task, TaskStatus.CANCELLED)
                changed.add(task.id)
        self._due.clear()
        self._waiting.clear()
        self._end_run(RunState.CANCELLED)
        self._emit(tasks=changed, transitions=changed, run=True)
        return True

    def restore(self, run: Run, tasks: list[Task], events: Iterable[RunEvent] = ()) -> None:
        """Show a run that was stored (the last one, after a restart), with what had happened to it (`events`).
        Later runs are numbered after it, and take its settings but not its seed (as after start)."""
        self.run = run
        self.events = list(events)
        self.settings = replace(run.settings, seed=self._default_seed)
        self.tasks = tasks
        self.counts = Counts()
        for task in tasks:
            setattr(self.counts, COUNT_FIELD[task.status], getattr(self.counts, COUNT_FIELD[task.status]) + 1)
        for task in tasks:  # only a running task can be stalled (a stored one may have been cut off while it was)
            task.stalled = task.stalled and task.status == TaskStatus.RUNNING
        self._track_stalled(task.id for task in tasks if task.stalled)
        self._due.clear()
        self._waiting = deque(task.id for task in tasks if task.status == TaskStatus.PENDING)
        self.number_runs_after(run.id)
        self._emit(structure=True)

    def number_runs_after(self, run_id: int) -> None:
        """Runs up to `run_id` exist already (in the history): the next run started gets a higher number."""
        self._runs_started = max(self._runs_started, run_id)

    def interrupt(self) -> bool:
        """The app is stopping: running tasks become interrupted, to be resumed later. False if nothing ran."""
        if not self.active:
            return False
        changed = [task.id for task in self.tasks if task.status == TaskStatus.RUNNING]  # waiting ones still wait
        for task_id in changed:
            self._count(self.tasks[task_id], TaskStatus.INTERRUPTED)
            self._flag_stalled(self.tasks[task_id], False)
        self._due.clear()
        self._end_run(RunState.INTERRUPTED)
        self._emit(tasks=changed, transitions=changed, run=True)
        return True

    def resume(self) -> bool:
        """Go on with an interrupted run: its interrupted tasks carry on from their progress. False if there was
        nothing to resume."""
        run = self.run
        if run is None or run.state != RunState.INTERRUPTED:
            return False
        run.state = RunState.RUNNING
        run.finished_s = None
        # stopped cleanly (`interrupt`), every task stands where its start says: it goes on as if never stopped, and
        # a replay of it is exact. Found cut off (a crash; or a log without the stop, from before events), its
        # percents were saved at other moments than its clock: each task's start is moved to fit its percent
        last = self.events[-1] if self.events else None
        clean = last is not None and last.kind == EventKind.INTERRUPTED and not last.crash
        self._event(EventKind.RESUME)
        resumed = [task for task in self.tasks if task.status == TaskStatus.INTERRUPTED]
        for task in resumed:
            self._count(task, TaskStatus.RUNNING)
            if not clean:
                _rebase(task, run.elapsed_s, run.settings.speed)
            self._schedule(task)
        ids = [task.id for task in resumed] + self._fill_slots()
        self._emit(tasks=ids, transitions=ids, run=True)
        self.step(0.0)
        return True

    def failed_tasks(self, error: str | None = None) -> list[int]:
        """Ids of the failed tasks, or of those that failed with exactly `error`."""
        return failed_ids(self.tasks, error)

    def error_groups(self) -> list[tuple[str, list[int]]]:
        """The failed tasks grouped by error message, the largest group first."""
        return error_groups(self.tasks)

    def retry(self, task_ids: Iterable[int] | None = None, *, error: str | None = None) -> list[int]:
        """Run failed tasks of the finished run again, in place, as their next attempt; returns their ids.

        Without arguments every failed task goes again; `error` picks the tasks that failed with that message;
        `task_ids` picks tasks by id, and each must have failed. Raises RunActiveError while a run is active and
        RetryError when there is nothing to retry or a task asked for did not fail; nothing changes then.
        """
        run = self.run
        if self.active:
            raise RunActiveError(f'run {run.id} is still running; retry once it has finished')
        if run is None or run.state == RunState.INTERRUPTED:
            raise RetryError('there is no finished run to retry' if run is None else
                             f'run {run.id} was interrupted; resume it first')
        if task_ids is None:
            ids = self.failed_tasks(error)
            if not ids:
                raise RetryError(f'no task failed with the error {error!r}' if error is not None else
                                 f'no task of run {run.id} failed')
        else:
            ids = sorted(set(task_ids))
            unknown = [i for i in ids if not 0 <= i < len(self.tasks)]
            if unknown:
                raise RetryError(f'run {run.id} has no task {_listed(unknown)} '
                                 f'(ids go from 0 to {len(self.tasks) - 1})')
            not_failed = [i for i in ids if self.tasks[i].status != TaskStatus.FAILED]
            if not_failed:
                raise RetryError(f'only failed tasks can be retried; task {_listed(not_failed)} did not fail')
            if not ids:
                raise RetryError('no task ids were given')
        self._requeue(ids, EventKind.RETRY)
        return ids

    def cancel_task(self, task_id: int) -> Task:
        """End one running or waiting task of the active run as cancelled; the run goes on (and completes, if that
        was its last unfinished task). Raises TaskStateError when no run is active or the task has finished, and
        RetryError for an id the run does not have; nothing changes then."""
        task = self._task(task_id)
        if not self.active:
            raise TaskStateError(f'no run is active, so task {task_id} cannot be cancelled')
        if task.status.finished:
            raise TaskStateError(f'task {task_id} has already {_ended(task)}; only a running or waiting task can '
                                 'be cancelled')
        if task.status == TaskStatus.RUNNING:
            self._due = [entry for entry in self._due if entry[1] != task_id]
            heapq.heapify(self._due)
        else:
            self._waiting.remove(task_id)
        self._finish(task, TaskStatus.CANCELLED)
        self._event(EventKind.CANCEL_TASK, (task_id,))
        ids = [task_id, *self._fill_slots()]
        ended = self.counts.finished == self.total
        if ended:
            self._end_run(RunState.COMPLETED)
        self._emit(tasks=ids, transitions=ids, run=ended)
        return task

    def retry_task(self, task_id: int) -> Task:
        """Run one failed (or timed-out) or cancelled task again as its next attempt, while its run goes on or after
        it has finished. Raises TaskStateError when the run was interrupted (resume it first) or there is none, and
        RetryError for an id the run does not have or a task that neither failed nor was cancelled."""
        task = self._task(task_id)
        if self.run is None or self.run.state == RunState.INTERRUPTED:
            raise TaskStateError('there is no run to retry a task of' if self.run is None else
                                 f'run {self.run.id} was interrupted; resume it first')
        if task.status not in {TaskStatus.FAILED, TaskStatus.CANCELLED}:
            raise RetryError(f'only a failed or cancelled task can be retried; task {task_id} is '
                             f'{_described_status(task)}')
        self._requeue([task_id], EventKind.RETRY_TASK)
        return task

    def _task(self, task_id: int) -> Task:
        if not 0 <= task_id < len(self.tasks):
            raise RetryError(f'there is no task {task_id} (ids go from 0 to {len(self.tasks) - 1})'
                             if self.tasks else f'there is no task {task_id}: there are no tasks')
        return self.tasks[task_id]

    def _requeue(self, ids: list[int], kind: EventKind) -> None:
        """Make finished tasks pending again as their next attempt; they start as slots allow."""
        run = self.run
        assert run is not None
        self._event(kind, tuple(ids))
        for task_id in ids:
            task = self.tasks[task_id]
            task.earlier.append(Attempt(number=task.attempt, duration=task.duration, progress=task.progress,
                                        started_s=task.started_s, finished_s=task.finished_s, error=task.error))
            del task.earlier[:-MAX_EARLIER]  # the live state keeps the last few; the store keeps them all
            task.attempt += 1
            plan_retry(task, run.settings, run.seed)
            self._count(task, TaskStatus.PENDING)
            task.progress, task.started_s, task.finished_s, task.error = 0, None, None, None
        run_changed = run.state != RunState.RUNNING
        run.state, run.finished_s = RunState.RUNNING, None
        self._waiting.extend(ids)
        started = self._fill_slots()  # with the requeued ones last in line, it may start tasks that waited before
        changed = [*ids, *started]
        self._emit(tasks=changed, transitions=changed, run=run_changed)
        self.step(0.0)

    def step(self, dt: float) -> None:
        """Advance the active run by `dt` real seconds. Does nothing when no run is active.

        This is the hot path (10,000 tasks at speed 1 make about 1,500 changes a step), hence the local names.
        Whatever goes wrong inside one task's update fails that task alone, never the step or the others.
        """
        run = self.run
        if run is None or run.state != RunState.RUNNING:
            return
        run.elapsed_s += max(dt, 0.0)
        speed = run.settings.speed
        now = run.elapsed_s * speed
        due, tasks, progress_of = self._due, self.tasks, self._progress_of
        linear = progress_of is linear_progress
        timeout = run.settings.task_timeout
        changed: list[int] = []
        transitions: list[int] = []
        later: list[tuple[float, int]] = []
        while due and due[0][0] <= now:
            task = tasks[heapq.heappop(due)[1]]
            before = task.progress
            start = task.started_s * speed
            if timeout is not None and now >= start + timeout:
                self._time_out(task, timeout)
                changed.append(task.id)
                transitions.append(task.id)
                continue
            if task.stall_at is not None:  # a hang is planned: the few tasks that have one take the long way
                self._step_hanging(task, now, speed, timeout, changed, transitions, later)
                continue
            try:
                if linear and task.duration > 0:  # linear_progress, inlined: it runs 15,000 times a second
                    percent = int(100 * (now - start) / task.duration + 1e-9)
                else:
                    percent = int(progress_of(task, now - start))
            except Exception as error:  # noqa: BLE001 (isolating any error of one task is the point)
                log.warning('task %d failed in its update: %r', task.id, error)
                self._finish(task, TaskStatus.FAILED, error=f'{type(error).__name__}: {error}')
                changed.append(task.id)
                transitions.append(task.id)
                continue
            percent = 100 if percent > 100 else before if percent < before else percent
            if task.fail_at is not None and percent >= task.fail_at:
                self._fail_as_planned(task)
            elif percent >= 100:
                task.progress = 100
                self._finish(task, TaskStatus.COMPLETED)
            else:
                task.progress = percent
                next_change = start + (percent + 1 - EARLY) * task.duration / 100
                if timeout is not None and next_change > start + timeout:
                    next_change = start + timeout
                later.append((next_change, task.id))
                if percent != before:
                    changed.append(task.id)
                continue
            changed.append(task.id)
            transitions.append(task.id)
        for entry in later:  # pushed after the loop, so that no task is looked at twice in one step
            heapq.heappush(due, entry)
        if self._waiting and transitions:  # tasks ended: with limited concurrency, waiting ones take their slots
            started = self._fill_slots()
            changed.extend(started)
            transitions.extend(started)
        run_changed = False
        if self.counts.finished == self.total:
            self._end_run(RunState.COMPLETED)
            run_changed = True
        if changed or run_changed:
            self._emit(tasks=changed, transitions=transitions, run=run_changed)

    def _step_hanging(self, task: Task, now: float, speed: float, timeout: float | None, changed: list[int],
                      transitions: list[int], later: list[tuple[float, int]]) -> None:
        """`step` for a task with a planned hang. In simulated seconds since the task started (`ran`): it moves
        evenly until its percent reaches `stall_at` (at `hang`), stands still for `stall_for` (for good if None),
        then moves on as if that time had not been. It is flagged stalled while it has stood still for longer than
        `stall_after_s` (strictly: not at that very moment)."""
        assert self.run is not None and task.stall_at is not None and task.started_s is not None
        start, before = task.started_s * speed, task.progress
        ran, duration = now - start, task.duration
        hang = task.stall_at * duration / 100
        length = math.inf if task.stall_for is None else task.stall_for
        if task.stalled_from is None and int(100 * ran / duration + 1e-9) >= task.stall_at:
            task.stalled_from = (start + hang) / speed
        if task.stalled_from is None:
            worked = ran
        elif now < start + hang + length:
            worked = hang
        else:
            worked = ran - length
            if task.stalled_until is None:
                task.stalled_until = (start + hang + length) / speed
        percent = max(before, min(100, int(100 * worked / duration + 1e-9)))
        if task.stalled_from is not None and task.stalled_until is None:
            percent = task.stall_at
        if task.fail_at is not None and percent >= task.fail_at:
            self._fail_as_planned(task)
        elif percent >= 100:
            task.progress = 100
            self._finish(task, TaskStatus.COMPLETED)
        else:
            task.progress = percent
            hung = task.stalled_from is not None and task.stalled_until is None
            flag = hung and now > start + hang + stall_after_s(duration)
            flagged = flag != task.stalled
            self._flag_stalled(task, flag)
            # due: summed as the checks above sum it ((start + hang) + ...), so that at the moment it is due they agree
            # to the last bit (start + (hang + limit) may round one way, (start + hang) + limit the other)
            if not hung:
                due = start + (percent + 1 - EARLY) * duration / 100 + (0.0 if task.stalled_from is None else length)
            elif flag:
                due = start + hang + length
            else:  # the first moment that is strictly later than the stall rule's limit
                due = min(start + hang + length, math.nextafter(start + hang + stall_after_s(duration), math.inf))
            if timeout is not None:
                due = min(due, start + timeout)
            if due < math.inf:
                later.append((due, task.id))
            if percent != before or flagged:
                changed.append(task.id)
            return
        changed.append(task.id)
        transitions.append(task.id)

    def _time_out(self, task: Task, limit: float) -> None:
        self._finish(task, TaskStatus.FAILED, error=timeout_message(limit))

    def _flag_stalled(self, task: Task, stalled: bool) -> None:
        if stalled != task.stalled:
            task.stalled = stalled
            (self._stalled.add if stalled else self._stalled.discard)(task.id)
            self._stalled_view = None

    def _track_stalled(self, ids: Iterable[int]) -> None:
        self._stalled, self._stalled_view = set(ids), None

    # ---- transitions ------------------------------------------------------------------------------------------

    def _fail_as_planned(self, task: Task) -> None:
        assert task.fail_at is not None
        task.progress = task.fail_at
        self._finish(task, TaskStatus.FAILED, error=failure_message(task.fail_at))

    def _fill_slots(self) -> list[int]:
        """Start waiting tasks, in order, while the concurrency limit allows; returns their ids."""
        limit = self.settings.concurrency or len(self.tasks)
        started = []
        while self._waiting and self.counts.running < limit:
            task = self.tasks[self._waiting.popleft()]
            self._begin(task)
            started.append(task.id)
        return started

    def _begin(self, task: Task) -> None:
        assert self.run is not None
        self._count(task, TaskStatus.RUNNING)
        task.started_s = self.run.elapsed_s
        self._schedule(task)

    def _schedule(self, task: Task) -> None:
        assert self.run is not None and task.started_s is not None
        start = task.started_s * self.run.settings.speed
        next_change = start + (task.progress + 1 - EARLY) / 100 * task.duration
        timeout = self.run.settings.task_timeout
        if timeout is not None and next_change > start + timeout:
            next_change = start + timeout
        heapq.heappush(self._due, (next_change, task.id))

    def _finish(self, task: Task, status: TaskStatus, *, error: str | None = None) -> None:
        assert self.run is not None
        self._count(task, status)
        self._flag_stalled(task, False)
        task.finished_s = self.run.elapsed_s
        task.error = error

    def _count(self, task: Task, status: TaskStatus) -> None:
        counts = self.counts
        setattr(counts, COUNT_FIELD[task.status], getattr(counts, COUNT_FIELD[task.status]) - 1)
        setattr(counts, COUNT_FIELD[status], getattr(counts, COUNT_FIELD[status]) + 1)
        task.status = status

    def _end_run(self, state: RunState) -> None:
        assert self.run is not None
        self.run.state = state
        self.run.finished_s = self.run.elapsed_s
        self._event(END_EVENT[state])

    def _event(self, kind: EventKind, tasks: tuple[int, ...] = ()) -> None:
        """Log what happened now, as the doing of whoever is `acting`; a run completing is nobody's."""
        assert self.run is not None
        source = '' if kind == EventKind.COMPLETED else self._source
        self.events.append(RunEvent(at_s=self.run.elapsed_s, kind=kind, wall=self._clock(), tasks=tasks, source=source))

    def _set_tasks(self, count: int) -> None:
        self.tasks = [Task(id=i) for i in range(count)]
        self.counts = Counts(pending=count)
        self._track_stalled(())
        self._due.clear()
        self._waiting.clear()

    def _emit(self, *, tasks: Iterable[int] = (), transitions: Iterable[int] = (), run: bool = False,
              structure: bool = False) -> None:
        self.version += 1
        change = Change(version=self.version, tasks=frozenset(tasks), transitions=frozenset(transitions),
                        run=run or structure, structure=structure)
        self._log.append(change)
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:  # one listener's failure must neither stop the others nor undo the change
                log.exception('a listener of the simulator failed on change %d', change.version)


def _rebase(task: Task, elapsed_s: float, speed: float) -> None:
    """Set a resumed task's start as if it had started long enough ago to be where it stopped (the run's clock may
    have been saved before its tasks were). A task that hung keeps its hang: the time it had stood still counts,
    and a hang it got over lies where the same arithmetic puts it."""
    worked = task.progress / 100 * task.duration
    hang = None if task.stall_at is None or task.stalled_from is None else task.stall_at * task.duration / 100
    if hang is None:
        task.started_s = elapsed_s - worked / speed
    elif task.stalled_until is None:
        task.started_s = min(task.stalled_from, elapsed_s) - hang / speed
        task.stalled_from = (task.started_s * speed + hang) / speed  # as `_step_hanging` and a replay work it out
    else:
        length, now = task.stall_for or 0.0, elapsed_s * speed
        task.started_s = elapsed_s - (worked + length) / speed
        for _ in range(8):  # its hang is over, also by the arithmetic a step and a replay do (a rounding may put the
            if task.started_s * speed + hang + length <= now:  # end one bit later, and the task back in its hang)
                break
            task.started_s -= math.ulp(now) / speed
        task.stalled_from = (task.started_s * speed + hang) / speed
        task.stalled_until = (task.started_s * speed + hang + length) / speed


def _ended(task: Task) -> str:
    return {TaskStatus.COMPLETED: 'completed', TaskStatus.FAILED: 'failed'}.get(task.status, 'been cancelled')


def _described_status(task: Task) -> str:
    return {TaskStatus.PENDING: 'waiting', TaskStatus.RUNNING: 'running', TaskStatus.COMPLETED: 'completed',
            TaskStatus.INTERRUPTED: 'interrupted'}.get(task.status, task.status.value)


def _listed(ids: list[int], most: int = 5) -> str:
    shown = ', '.join(map(str, ids[:most]))
    return f'{shown} and {len(ids) - most} more' if len(ids) > most else shown
