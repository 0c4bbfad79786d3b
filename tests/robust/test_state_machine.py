"""The simulator under random sequences of everything it can be asked to do (issue #8): start (with new settings
or those in force, hangs and time limits among them), reset, cancel, retry (all, by error message, by ids, valid and
invalid), cancel or retry one task (issue #15), interrupt, resume, a restart that restores the run into a fresh
simulator, restoring an older snapshot, and time moving by step(dt).

After every step of every sequence:

- the counters equal the task states, and each task's fields fit its state;
- progress never goes back within one attempt of one run;
- at most one run is active: tasks run only while it does, no more than its concurrency at once, a free slot is
  taken at once, and every new run gets a number never used before;
- a finished task never changes, except through an explicit retry (a failed task asked for goes back to pending as
  its next attempt, the earlier attempt kept exactly) and a new run (start, reset, restore);
- a run's settings, seed and start time never change while it exists;
- a refused operation (start while active, retry of what cannot be retried, cancel/resume/interrupt with nothing
  to act on) raises or answers False and changes nothing, not even the version;
- every change is reported: each task whose state, percent, error or stalled flag moved is named in the `Change`s
  emitted, and `changes_since` agrees;
- a stalled task is running, hangs where its plan says and has stood still for longer than the stall rule, and a
  task hanging longer than that is flagged; no running task has outlived the time limit, and a task that failed
  either failed as planned or has the time-out error;
- cancelling or retrying one task changes no other task (but for waiting tasks taking a slot it freed);
- a replay of the run (issue #16: its tasks and events, as they stand) shows the board of now exactly, and the board
  of every earlier moment of the run seen in the sequence exactly, unless it says it cannot (after a crash).

Time is a fake clock and `step(dt)`; nothing sleeps.
"""
from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from taskdemo import protocol
from taskdemo.model import FAILURE_KINDS, MAX_EARLIER, crash_noted, failure_message, stall_after_s, timeout_message
from taskdemo.replay import Recording, Replay
from taskdemo.settings import MAX_DURATION_S, MAX_SPEED, RunSettings
from taskdemo.simulator import (
    Attempt,
    Change,
    RetryError,
    Run,
    RunActiveError,
    RunState,
    Simulator,
    Task,
    TaskStateError,
    TaskStatus,
)

from ..helpers import FakeClock

SEQUENCES = 500
STEPS_PER_SEQUENCE = 40
MAX_TASKS = 30

FINISHED = {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
# within one attempt of one run, the only ways a task's state may go during one rule (which may step many times)
NEXT_STATES = {
    TaskStatus.PENDING: {TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.FAILED,
                         TaskStatus.CANCELLED},
    TaskStatus.RUNNING: {TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED,
                         TaskStatus.INTERRUPTED},
    TaskStatus.INTERRUPTED: {TaskStatus.INTERRUPTED, TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.FAILED},
    TaskStatus.COMPLETED: {TaskStatus.COMPLETED},
    TaskStatus.FAILED: {TaskStatus.FAILED},
    TaskStatus.CANCELLED: {TaskStatus.CANCELLED},
}


# ---- strategies ---------------------------------------------------------------------------------------------------

@st.composite
def run_settings(draw: st.DrawFn) -> RunSettings:
    """Valid settings with few tasks: durations mostly from a thousandth of a second to 150 s, now and then the
    limits (a week, and speeds from a thousandth to the maximum)."""
    low = draw(st.sampled_from([0.001, 0.5, 1.0, 30.0, MAX_DURATION_S]) | st.floats(0.001, 60))
    spread = draw(st.sampled_from([0.0, 1.0, 90.0]) | st.floats(0, 90))
    return RunSettings(
        tasks=draw(st.integers(1, MAX_TASKS)),
        failure_rate=draw(st.sampled_from([0.0, 0.2, 0.5, 1.0]) | st.floats(0, 1)),
        min_duration=low,
        max_duration=min(low + spread, MAX_DURATION_S),
        speed=draw(st.sampled_from([1.0, 10.0, 100.0, 0.001, MAX_SPEED]) | st.floats(0.1, 1000)),
        seed=draw(st.none() | st.integers(0, 2**32)),
        concurrency=draw(st.sampled_from([0, 1, 3]) | st.integers(0, MAX_TASKS + 5)),
        stall_rate=draw(st.sampled_from([0.0, 0.0, 0.3, 1.0]) | st.floats(0, 1)),
        task_timeout=draw(st.none() | st.sampled_from([0.001, 5.0, 60.0]) | st.floats(0.001, 200)),
    )


DT = st.sampled_from([0.0, 0.01, 0.5, 1.0, -1.0]) | st.floats(0, 40)


# ---- what is looked at --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskView:
    status: TaskStatus
    progress: int
    error: str | None
    attempt: int
    earlier: tuple[Attempt, ...]
    duration: float
    fail_at: int | None
    started_s: float | None
    finished_s: float | None
    stall_at: int | None
    stall_for: float | None
    stalled_from: float | None
    stalled_until: float | None
    stalled: bool

    @classmethod
    def of(cls, task: Task) -> TaskView:
        return cls(task.status, task.progress, task.error, task.attempt, tuple(task.earlier), task.duration,
                   task.fail_at, task.started_s, task.finished_s, task.stall_at, task.stall_for, task.stalled_from,
                   task.stalled_until, task.stalled)

    @property
    def shown(self) -> tuple[Any, ...]:
        """What a viewer sees of a task: a change here must be reported."""
        return self.status, self.progress, self.error, self.attempt, self.stalled

    def as_attempt(self) -> Attempt:
        return Attempt(number=self.attempt, duration=self.duration, progress=self.progress,
                       started_s=self.started_s, finished_s=self.finished_s, error=self.error)


@dataclass(frozen=True)
class View:
    """Everything observable about a simulator at one moment."""

    state: RunState
    run: tuple[Any, ...] | None  # id, settings, seed, started_at, elapsed_s, state, finished_s
    settings: RunSettings
    counts: tuple[int, ...]
    version: int
    tasks: tuple[TaskView, ...]

    @classmethod
    def of(cls, sim: Simulator) -> View:
        run = sim.run
        c = sim.counts
        return cls(sim.state,
                   None if run is None else (run.id, run.settings, run.seed, run.started_at, run.elapsed_s,
                                             run.state, run.finished_s),
                   sim.settings, (c.pending, c.running, c.completed, c.failed, c.cancelled, c.interrupted),
                   sim.version, tuple(TaskView.of(task) for task in sim.tasks))

    @property
    def run_id(self) -> int | None:
        return None if self.run is None else self.run[0]


@dataclass
class Op:
    """What the rule just run did, as far as the invariants need to know."""

    name: str
    refused: bool = False  # raised or answered False: nothing may have changed
    new_run: bool = False  # start, reset, restoring an older snapshot: the tasks are new ones
    restart: bool = False  # a fresh simulator took over the run: versions start again
    retried: frozenset[int] = frozenset()  # failed tasks legitimately sent back to pending
    one_task: int | None = None  # the task a per-task command acted on: no other may change


def stored(sim: Simulator) -> tuple[Run, list[Task]]:
    """The run as the store gives it back after a restart: a copy, and a run cut off mid-way comes back
    interrupted with its running tasks interrupted (store.last_run)."""
    assert sim.run is not None
    run, tasks = copy.deepcopy((sim.run, sim.tasks))
    if run.state == RunState.RUNNING:
        run.state, run.finished_s = RunState.INTERRUPTED, run.elapsed_s
        for task in tasks:
            if task.status == TaskStatus.RUNNING:
                task.status, task.stalled = TaskStatus.INTERRUPTED, False
    return run, tasks


def step_to_the_end(sim: Simulator) -> None:
    """Step an active run for as long as its unfinished tasks would take one after the other (hangs included, or up
    to the time limit), in 20-odd steps: a run still active after that is stuck."""
    left = [task for task in sim.tasks if not task.status.finished]
    limit = sim.run.settings.task_timeout or float('inf')
    dt = max(sum(min(limit, _time_left(task)) for task in left) / sim.run.settings.speed / 20, 1e-3)
    for _ in range(20 + len(left) + 2):
        sim.step(dt)
        if not sim.active:
            return


def _time_left(task: Task) -> float:
    """Simulated seconds a task still needs at most: the rest of its work, and its hang unless it is over (a hang
    for good needs forever; only the time limit ends it)."""
    hang = 0.0 if task.stall_at is None or task.stalled_until is not None else task.stall_for
    return float('inf') if hang is None else task.duration * (1 - task.progress / 100) + hang


def expected_retry(tasks: list[tuple[TaskStatus, str | None]], ids: list[int] | None,
                   error: str | None) -> list[int] | None:
    """The ids a retry of a finished run must pick, or None when it must refuse (RetryError / 422)."""
    failed = [i for i, (status, message) in enumerate(tasks)
              if status == TaskStatus.FAILED and (error is None or message == error)]
    if ids is None:
        return failed or None
    asked = sorted(set(ids))
    if not asked or any(not 0 <= i < len(tasks) or tasks[i][0] != TaskStatus.FAILED for i in asked):
        return None
    return asked


TALLY = {'sequences': 0, 'steps': 0, 'started': 0, 'refused': 0, 'retried': 0, 'interrupted': 0, 'resumed': 0,
         'restarts': 0, 'restored': 0, 'completed_runs': 0, 'tasks_cancelled': 0, 'tasks_retried': 0,
         'stalls_seen': 0, 'time_outs_seen': 0, 'moments_replayed': 0, 'moments_approximate': 0}


class SimulatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        TALLY['sequences'] += 1
        self.clock = FakeClock()
        self.sim: Simulator
        self.changes: list[Change] = []
        self.prev: View | None = None
        self.op = Op('init')
        self.max_run_id = 0
        self.run_records: dict[int, tuple[RunSettings, int, float]] = {}  # run id -> settings, seed, started_at
        self.saved: tuple[Run, list[Task]] | None = None
        self.server_seed: int | None = None  # the simulator's own seed (`--seed`): later runs go back to it
        # `/status` of the run shown at each moment seen, by elapsed_s, with how many events the run had then
        self.boards: dict[float, tuple[dict[str, Any], int]] = {}

    # ---- plumbing -------------------------------------------------------------------------------------------

    def _use(self, sim: Simulator) -> None:
        self.sim = sim
        sim.subscribe(self.changes.append)

    def _begin(self, name: str) -> Op:
        TALLY['steps'] += 1
        self.prev = View.of(self.sim)
        self.changes.clear()
        self.op = Op(name)
        return self.op

    def _refused(self) -> None:
        self.op.refused = True
        TALLY['refused'] += 1

    @initialize(settings=run_settings(), started=st.booleans())
    def build(self, settings: RunSettings, started: bool) -> None:
        self._use(Simulator(settings, clock=self.clock, rng=random.Random(0)))
        self.server_seed = settings.seed
        if started:
            self.start(None)

    @rule(settings=st.none() | run_settings())
    def start(self, settings: RunSettings | None) -> None:
        op = self._begin('start')
        sim = self.sim
        in_force = sim.settings
        self.clock.advance(1.0)
        if sim.active:
            try:
                sim.start(settings)
            except RunActiveError:
                self._refused()
                assert sim.settings == in_force, 'settings given to a refused start must not stay in force'
                return
            raise AssertionError('start while a run is active must raise RunActiveError')
        run = sim.start(settings)
        op.new_run = True
        TALLY['started'] += 1
        wanted = settings or in_force
        assert run is sim.run and run.id == self.max_run_id + 1, 'every new run gets the next, unused number'
        assert run.settings == wanted
        assert sim.settings == replace(wanted, seed=self.server_seed), 'all but the seed stays in force'
        assert run.started_at == self.clock.now
        if wanted.seed is not None:
            assert run.seed == wanted.seed
        assert sim.total == wanted.tasks
        self.max_run_id = run.id
        self.run_records[run.id] = (run.settings, run.seed, run.started_at)

    @precondition(lambda self: not self.sim.active)
    @rule(settings=st.none() | run_settings())
    def start_a_new_run(self, settings: RunSettings | None) -> None:
        self.start(settings)

    def _reset(self) -> None:
        op = self._begin('reset')
        self.sim.reset()
        op.new_run = True
        assert self.sim.run is None and self.sim.state == RunState.IDLE
        assert self.sim.total == self.sim.settings.tasks == self.prev.settings.tasks

    # reset, cancel, interrupt and resume share one rule: a rule apiece would crowd out the rules that make runs go
    # (the last three are refused in most states, and reset leads to the idle state, which only a start leaves)

    @rule(action=st.sampled_from(['reset', 'cancel', 'interrupt', 'resume']))
    def control(self, action: str) -> None:
        getattr(self, f'_{action}')()

    def _cancel(self) -> None:
        self._begin('cancel')
        was_active = self.sim.active
        assert self.sim.cancel() == was_active
        if not was_active:
            self._refused()
            return
        assert self.sim.state == RunState.CANCELLED
        for before, task in zip(self.prev.tasks, self.sim.tasks, strict=True):
            assert task.status == (before.status if before.status in FINISHED else TaskStatus.CANCELLED)
            assert task.progress == before.progress

    def _interrupt(self) -> None:
        self._begin('interrupt')
        was_active = self.sim.active
        assert self.sim.interrupt() == was_active
        if not was_active:
            self._refused()
            return
        TALLY['interrupted'] += 1
        assert self.sim.state == RunState.INTERRUPTED
        for before, task in zip(self.prev.tasks, self.sim.tasks, strict=True):
            assert task.status == (TaskStatus.INTERRUPTED if before.status == TaskStatus.RUNNING else before.status)
            assert task.progress == before.progress

    def _resume(self) -> None:
        self._begin('resume')
        was_interrupted = self.sim.state == RunState.INTERRUPTED
        assert self.sim.resume() == was_interrupted
        if not was_interrupted:
            self._refused()
            return
        TALLY['resumed'] += 1
        assert self.sim.counts.interrupted == 0
        assert self.sim.active or self.sim.counts.finished == self.sim.total

    @precondition(lambda self: self.sim.state == RunState.INTERRUPTED)
    @rule()
    def resume_after_an_interruption(self) -> None:
        self._resume()

    def _retry(self, ids: list[int] | None, error: str | None) -> None:
        op = self._begin('retry')
        sim = self.sim
        expected: list[int] | None = None
        if sim.run is not None and sim.state != RunState.INTERRUPTED and not sim.active:
            expected = expected_retry([(task.status, task.error) for task in sim.tasks], ids, error)
        try:
            got = sim.retry(ids, error=error) if ids is not None else sim.retry(error=error)
        except RunActiveError:
            assert self.prev.state == RunState.RUNNING, 'RunActiveError only while a run is active'
            self._refused()
            return
        except RetryError:
            assert expected is None, f'retry({ids}, error={error!r}) refused, yet {expected} could go again'
            self._refused()
            return
        assert expected is not None, f'retry({ids}, error={error!r}) must raise RetryError, it retried {got}'
        assert got == expected
        op.retried = frozenset(got)
        TALLY['retried'] += 1

    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """Retry whatever the draw says, in any state: all, by an error message, or by ids (invalid ones too)."""
        how = data.draw(st.sampled_from(['all', 'error', 'ids']), label='how')
        if how == 'all':
            self._retry(None, None)
        elif how == 'error':
            groups = [message for message, _ in self.sim.error_groups()]
            choices = st.sampled_from(FAILURE_KINDS) | st.sampled_from(['', 'nope', 'Simulated failure'])
            self._retry(None, data.draw(st.sampled_from(groups) | choices if groups else choices, label='error'))
        else:
            total = self.sim.total
            failed = self.sim.failed_tasks()
            others = [task.id for task in self.sim.tasks if task.status != TaskStatus.FAILED]
            valid = st.lists(st.sampled_from(failed), min_size=1, max_size=5) if failed else st.just([])
            wrong = st.one_of(
                st.just([]),
                st.lists(st.integers(total, total + 5) | st.integers(-3, -1), min_size=1, max_size=3),
                st.lists(st.sampled_from(others), min_size=1, max_size=3) if others else st.just([-1]),
            )
            mixed = st.tuples(valid, wrong).map(lambda pair: pair[0] + pair[1])
            self._retry(data.draw(valid | mixed | wrong, label='ids'), None)

    @precondition(lambda self: self.sim.state in {RunState.COMPLETED, RunState.CANCELLED} and self.sim.counts.failed)
    @rule(data=st.data())
    def retry_some_failed_tasks(self, data: st.DataObject) -> None:
        """`retry` picks blindly and is mostly refused; this one picks what can go again."""
        failed = self.sim.failed_tasks()
        how = data.draw(st.sampled_from(['all', 'error', 'ids', 'ids and a wrong one']), label='how')
        if how == 'all':
            self._retry(None, None)
        elif how == 'error':
            groups = [message for message, _ in self.sim.error_groups()]
            self._retry(None, data.draw(st.sampled_from(groups), label='error'))
        else:
            ids = data.draw(st.lists(st.sampled_from(failed), min_size=1, max_size=len(failed)), label='ids')
            if how == 'ids and a wrong one':  # one bad id spoils the lot: RetryError, and nothing changes
                others = [task.id for task in self.sim.tasks if task.status != TaskStatus.FAILED]
                wrong = st.sampled_from([-1, self.sim.total, *others])
                ids = data.draw(st.permutations([*ids, data.draw(wrong, label='wrong')]), label='ids')
            self._retry(ids, None)

    @rule(dt=DT)
    def step(self, dt: float) -> None:
        self._begin('step')
        elapsed = self.sim.run.elapsed_s if self.sim.run else None
        self.sim.step(dt)
        if self.prev.state != RunState.RUNNING:
            assert View.of(self.sim) == self.prev, 'step changes nothing unless a run is active'
        else:
            assert self.sim.run.elapsed_s == elapsed + max(dt, 0.0)

    @rule(data=st.data())
    def cancel_one_task(self, data: st.DataObject) -> None:
        """Cancel one task: mostly one that can be, now and then one that cannot (finished, unknown, no run)."""
        op = self._begin('cancel_task')
        sim = self.sim
        unfinished = [task.id for task in sim.tasks if not task.status.finished]
        anything = st.integers(-2, sim.total + 2)
        task_id = data.draw(st.sampled_from(unfinished) | anything if unfinished else anything, label='task')
        can = sim.active and 0 <= task_id < sim.total and not sim.tasks[task_id].status.finished
        try:
            task = sim.cancel_task(task_id)
        except (TaskStateError, RetryError):
            assert not can, f'cancel_task({task_id}) refused, yet it could be cancelled'
            self._refused()
            return
        assert can, f'cancel_task({task_id}) must be refused'
        assert task.status == TaskStatus.CANCELLED and task.progress == self.prev.tasks[task_id].progress
        op.one_task = task_id
        TALLY['tasks_cancelled'] += 1

    @rule(data=st.data())
    def retry_one_task(self, data: st.DataObject) -> None:
        """Retry one task, while the run goes on or after it: mostly a failed or cancelled one."""
        op = self._begin('retry_task')
        sim = self.sim
        ended = [task.id for task in sim.tasks if task.status in {TaskStatus.FAILED, TaskStatus.CANCELLED}]
        anything = st.integers(-2, sim.total + 2)
        task_id = data.draw(st.sampled_from(ended) | anything if ended else anything, label='task')
        can = sim.run is not None and sim.state != RunState.INTERRUPTED and 0 <= task_id < sim.total and \
            sim.tasks[task_id].status in {TaskStatus.FAILED, TaskStatus.CANCELLED}
        try:
            task = sim.retry_task(task_id)
        except (TaskStateError, RetryError):
            assert not can, f'retry_task({task_id}) refused, yet it could go again'
            self._refused()
            return
        assert can, f'retry_task({task_id}) must be refused'
        assert task.attempt == self.prev.tasks[task_id].attempt + 1 and sim.active
        op.one_task, op.retried = task_id, frozenset({task_id})
        TALLY['tasks_retried'] += 1

    @rule()
    def run_to_the_end(self) -> None:
        """Liveness: an active run ends within the time its unfinished tasks take one after the other, once the
        tasks that would hang for good with no time limit to end them are cancelled (as a user would)."""
        self._begin('finish')
        sim = self.sim
        if not sim.active:
            return
        if sim.run.settings.task_timeout is None:
            for task in sim.tasks:
                if task.stall_at is not None and task.stall_for is None and not task.status.finished:
                    sim.cancel_task(task.id)
            if not sim.active:
                return
        step_to_the_end(sim)
        assert not sim.active, f'the run is stuck: {sim.counts}, {[TaskView.of(t) for t in sim.tasks]}'
        assert sim.state == RunState.COMPLETED
        TALLY['completed_runs'] += 1

    @precondition(lambda self: self.sim.run is not None and self.sim.run.id == self.max_run_id)
    @rule(crash=st.booleans())
    def restart(self, crash: bool) -> None:
        """The app stops (cleanly: interrupt(), or killed) and starts again: a fresh simulator restores the run."""
        op = self._begin('restart')
        op.restart = True
        TALLY['restarts'] += 1
        if not crash:
            self.sim.interrupt()
        run, tasks = stored(self.sim)
        expected = [TaskView.of(task) for task in tasks]
        fresh = Simulator(RunSettings(tasks=1), clock=self.clock, rng=random.Random(1))
        self.server_seed = None
        fresh.restore(run, tasks, crash_noted(run, list(self.sim.events)))  # as the store gives them back
        self._use(fresh)
        assert [TaskView.of(task) for task in fresh.tasks] == expected
        assert fresh.state == (RunState.INTERRUPTED if self.prev.state == RunState.RUNNING else self.prev.state)
        assert fresh.settings == replace(run.settings, seed=None), 'all but the seed of the stored run'

    @precondition(lambda self: self.sim.run is not None)
    @rule()
    def save_snapshot(self) -> None:
        self._begin('save')
        self.saved = stored(self.sim)

    @precondition(lambda self: self.saved is not None and not self.sim.active)
    @rule()
    def restore_snapshot(self) -> None:
        """The board shows a stored run again (the one saved earlier, maybe long ago)."""
        op = self._begin('restore')
        op.new_run = True
        TALLY['restored'] += 1
        run, tasks = copy.deepcopy(self.saved)
        expected = [TaskView.of(task) for task in tasks]
        self.sim.restore(run, tasks)
        assert [TaskView.of(task) for task in self.sim.tasks] == expected
        assert self.sim.run.id == run.id and self.sim.settings == replace(run.settings, seed=self.server_seed)

    # ---- invariants -----------------------------------------------------------------------------------------

    @invariant()
    def a_replay_shows_now_and_every_moment_seen(self) -> None:
        sim = self.sim
        if self.op.new_run or sim.run is None:
            self.boards.clear()  # another run: its moments start afresh
        if sim.run is None:
            return
        now = _board(sim)
        self.boards[sim.run.elapsed_s] = (now, len(sim.events))
        replay = Replay(Recording(sim.run, sim.tasks, list(sim.events), live=True))
        assert _board(replay.at(sim.run.elapsed_s)) == now, f'{self.op.name}: the replay of now differs'
        for at, (board, known) in list(self.boards.items())[-12:]:  # the latest: enough to span every kind of op
            if any(event.at_s == at for event in sim.events[known:]):
                del self.boards[at]  # more happened at that very moment (the clock stood still): it shows the later
                continue
            moment = replay.at(at)
            TALLY['moments_replayed'] += 1
            if not moment.exact:
                TALLY['moments_approximate'] += 1
                retried_past_memory = any(task.attempt > MAX_EARLIER + 1 for task in sim.tasks)
                assert 'without a clean shutdown' in moment.note or 'was not recorded' in moment.note or \
                    retried_past_memory and 'more often than the live run keeps' in moment.note, moment.note
                continue
            assert _board(moment) == board, f'{self.op.name}: the replay at {at} differs'

    @invariant()
    def counters_equal_the_task_states(self) -> None:
        sim, c = self.sim, self.sim.counts
        by_state = {status: 0 for status in TaskStatus}
        for task in sim.tasks:
            by_state[task.status] += 1
        assert (c.pending, c.running, c.completed, c.failed, c.cancelled, c.interrupted) == (
            by_state[TaskStatus.PENDING], by_state[TaskStatus.RUNNING], by_state[TaskStatus.COMPLETED],
            by_state[TaskStatus.FAILED], by_state[TaskStatus.CANCELLED], by_state[TaskStatus.INTERRUPTED]), c
        assert sim.total == len(sim.tasks) == (sim.run.settings.tasks if sim.run else sim.settings.tasks)
        assert [task.id for task in sim.tasks] == list(range(sim.total))
        assert sim.percent == 100.0 * c.finished / sim.total

    @invariant()
    def every_task_fits_its_state(self) -> None:
        for task in self.sim.tasks:
            where = f'task {task.id}: {TaskView.of(task)}'
            assert 0 <= task.progress <= 100, where
            kept = min(task.attempt - 1, MAX_EARLIER)  # the attempts before this one, the oldest let go past a few
            assert [a.number for a in task.earlier] == list(range(task.attempt - kept, task.attempt)), where
            assert (task.error is not None) == (task.status == TaskStatus.FAILED), where
            assert not task.stalled or task.status == TaskStatus.RUNNING, f'a stalled task runs: {where}'
            if task.stall_at is None:
                assert (task.stall_for, task.stalled_from, task.stalled_until) == (None, None, None), where
            elif task.stalled_from is not None and task.stalled_until is None and not task.status.finished:
                assert task.progress == task.stall_at, f'a hanging task stands where it hangs: {where}'
            self._check_stall_and_limit(task, where)
            if task.status == TaskStatus.PENDING:
                assert task.progress == 0 and task.started_s is None and task.finished_s is None, where
            elif task.status == TaskStatus.COMPLETED:
                assert task.progress == 100 and task.fail_at is None and task.finished_s is not None, where
            elif task.status == TaskStatus.FAILED and task.error == self._timeout_error():
                TALLY['time_outs_seen'] += 1
                assert task.progress < (task.fail_at or 100), where
            elif task.status == TaskStatus.FAILED:
                assert task.progress == task.fail_at and task.error == failure_message(task.fail_at), where
            elif task.status in {TaskStatus.RUNNING, TaskStatus.INTERRUPTED}:
                assert task.progress < (task.fail_at or 100) and task.started_s is not None, where
                assert task.finished_s is None, where
            if task.status != TaskStatus.PENDING:
                assert self.sim.run is not None, where
            if self.sim.run is not None and task.status != TaskStatus.PENDING:
                settings = self.sim.run.settings
                assert settings.min_duration <= task.duration <= settings.max_duration, where

    def _timeout_error(self) -> str | None:
        run = self.sim.run
        return None if run is None or run.settings.task_timeout is None else timeout_message(run.settings.task_timeout)

    def _check_stall_and_limit(self, task: Task, where: str) -> None:
        """On the simulator's own arithmetic (simulated seconds of the run): a flag only strictly after the rule's
        limit, no flag missing past it (give or take a rounding), no running task past the time limit."""
        run = self.sim.run
        if task.status != TaskStatus.RUNNING:
            return
        now, start = run.elapsed_s * run.settings.speed, task.started_s * run.settings.speed
        if run.settings.task_timeout is not None:
            assert now < start + run.settings.task_timeout, f'a task outlived the time limit: {where}'
        if task.stall_at is None or task.stalled_from is None or task.stalled_until is not None:
            assert not task.stalled, where
            return
        limit = start + task.stall_at * task.duration / 100 + stall_after_s(task.duration)
        if task.stalled:
            TALLY['stalls_seen'] += 1
            assert now > limit, f'flagged stalled before the rule says: {where}'
        else:
            assert now <= limit + 1e-9 * (1 + abs(limit)), f'stood still past the rule, not flagged: {where}'

    @invariant()
    def per_task_control_changes_no_other_task(self) -> None:
        if self.op.one_task is None:
            return
        now = View.of(self.sim)
        for i, (before, after) in enumerate(zip(self.prev.tasks, now.tasks, strict=True)):
            if i != self.op.one_task and before != after:
                assert before.status == TaskStatus.PENDING, f'{self.op.name} changed task {i}: {before} -> {after}'

    @invariant()
    def at_most_one_run_is_active(self) -> None:
        sim, c = self.sim, self.sim.counts
        assert sim.active == (sim.state == RunState.RUNNING)
        assert (sim.run is None) == (sim.state == RunState.IDLE)
        assert sim.run is None or sim.run.id <= self.max_run_id
        if c.running:
            assert sim.active, 'tasks run only while their run is active'
        if c.interrupted:
            assert sim.state == RunState.INTERRUPTED
        if sim.state == RunState.IDLE:
            assert c.pending == sim.total
        elif sim.state == RunState.RUNNING:
            assert c.pending + c.running > 0 and sim.run.finished_s is None
            limit = sim.run.settings.concurrency or sim.total
            assert c.running <= limit, f'{c.running} tasks run at once, the limit is {limit}'
            assert c.pending == 0 or c.running == limit, f'a free slot was left empty: {c}'
            assert replace(sim.settings, seed=None) == replace(sim.run.settings, seed=None), \
                'the settings in force are the active run\'s, but for the seed'
        elif sim.state in {RunState.COMPLETED, RunState.CANCELLED}:
            assert c.finished == sim.total and sim.run.finished_s is not None
        else:
            assert sim.state == RunState.INTERRUPTED and sim.run.finished_s is not None

    @invariant()
    def a_runs_settings_never_change(self) -> None:
        run = self.sim.run
        if run is not None:
            assert (run.settings, run.seed, run.started_at) == self.run_records[run.id]

    @invariant()
    def what_is_refused_changes_nothing(self) -> None:
        if self.op.refused:
            assert View.of(self.sim) == self.prev, f'{self.op.name} was refused, yet the simulator changed'
            assert not self.changes, f'{self.op.name} was refused, yet it reported a change'

    @invariant()
    def finished_tasks_never_change_and_progress_never_goes_back(self) -> None:
        prev, op = self.prev, self.op
        if prev is None or op.new_run:
            return
        now = View.of(self.sim)
        assert now.run_id == prev.run_id
        if prev.run is not None and now.run[5] == prev.run[5] == RunState.RUNNING:
            assert now.run[4] >= prev.run[4], 'elapsed time went back'
        for before, after in zip(prev.tasks, now.tasks, strict=True):
            where = f'{op.name}: {before} -> {after}'
            if before.status in {TaskStatus.FAILED, TaskStatus.CANCELLED} and after.attempt != before.attempt:
                assert after.attempt == before.attempt + 1, where
                assert after.status in {TaskStatus.PENDING, TaskStatus.RUNNING} and after.progress == 0, where
                assert after.earlier == (*before.earlier, before.as_attempt()), 'the earlier attempt is kept'
                continue
            assert (after.attempt, after.earlier) == (before.attempt, before.earlier), where
            assert after.status in NEXT_STATES[before.status], where
            assert after.progress >= before.progress, f'progress went back: {where}'
            if before.status in FINISHED:
                assert after == before, f'a finished task changed: {where}'
            if before.status != TaskStatus.PENDING:
                assert (after.duration, after.fail_at, after.stall_at, after.stall_for) == (
                    before.duration, before.fail_at, before.stall_at, before.stall_for), where
        moved = {i for i, (b, a) in enumerate(zip(prev.tasks, now.tasks, strict=True)) if a.attempt != b.attempt}
        assert moved == set(op.retried), f'only the tasks retried start a new attempt: {moved} vs {set(op.retried)}'

    @invariant()
    def every_change_is_reported(self) -> None:
        prev, op, sim = self.prev, self.op, self.sim
        if prev is None or op.restart:
            return
        versions = [change.version for change in self.changes]
        assert versions == list(range(prev.version + 1, sim.version + 1)), 'one Change per version, in order'
        if op.new_run:
            assert any(change.structure for change in self.changes)
            assert sim.changes_since(prev.version) is None, 'after a new run a viewer needs everything again'
            return
        now = View.of(sim)
        named = set().union(*(change.tasks for change in self.changes))
        transitions = set().union(*(change.transitions for change in self.changes))
        shown = {i for i, (b, a) in enumerate(zip(prev.tasks, now.tasks, strict=True)) if b.shown != a.shown}
        moved = {i for i, (b, a) in enumerate(zip(prev.tasks, now.tasks, strict=True)) if b.status != a.status}
        assert shown <= named, f'{op.name}: tasks {sorted(shown - named)} changed unreported'
        assert moved <= transitions, f'{op.name}: transitions of {sorted(moved - transitions)} unreported'
        assert all(change.transitions <= change.tasks for change in self.changes)
        if (prev.state, prev.run_id) != (now.state, now.run_id):
            assert any(change.run for change in self.changes), 'the run changed unreported'
        since = sim.changes_since(prev.version)
        assert since is not None and shown <= since


def _board(view: Any) -> dict[str, Any]:
    status = protocol.status(view)
    status.pop('version')
    return status


def run_counted(machine: type, tally: dict[str, int], figures, *, sequences: int, steps: int,
                must_happen: tuple[str, ...]) -> None:
    """Run a state machine `sequences` times, record its tally, and check every kind of step really happened."""
    for name in tally:
        tally[name] = 0
    began = time.perf_counter()
    run_state_machine_as_test(machine, settings=hypothesis_settings(
        max_examples=sequences, stateful_step_count=steps, deadline=None))
    figures(**tally, seconds=round(time.perf_counter() - began, 1))
    assert tally['sequences'] >= sequences
    for what in must_happen:
        assert tally[what] > 0, f'no sequence ever had {what}'


def test_random_sequences_keep_every_invariant_of_the_simulator(figures) -> None:
    run_counted(SimulatorMachine, TALLY, figures, sequences=SEQUENCES, steps=STEPS_PER_SEQUENCE, must_happen=(
        'started', 'refused', 'retried', 'interrupted', 'resumed', 'restarts', 'restored', 'completed_runs',
        'tasks_cancelled', 'tasks_retried', 'stalls_seen', 'time_outs_seen'))
