from __future__ import annotations

import subprocess
import sys

import pytest

from taskdemo.model import FAILURE_KINDS
from taskdemo.simulator import (
    Change,
    RetryError,
    RunActiveError,
    RunState,
    Simulator,
    Task,
    TaskStatus,
    linear_progress,
)

from .helpers import finish


def states(sim: Simulator) -> list[tuple[str, int, str | None]]:
    return [(task.status.value, task.progress, task.error) for task in sim.tasks]


def assert_counts_match(sim: Simulator) -> None:
    counts = sim.counts
    by_status = {status: sum(task.status == status for task in sim.tasks) for status in TaskStatus}
    assert (counts.pending, counts.running, counts.completed, counts.failed, counts.cancelled) == (
        by_status[TaskStatus.PENDING], by_status[TaskStatus.RUNNING], by_status[TaskStatus.COMPLETED],
        by_status[TaskStatus.FAILED], by_status[TaskStatus.CANCELLED])


def test_a_new_simulator_is_idle_with_every_task_pending(sim):
    assert sim.state == RunState.IDLE
    assert sim.total == 50
    assert {task.status for task in sim.tasks} == {TaskStatus.PENDING}
    assert sim.percent == 0


def test_start_sets_every_task_running_and_stamps_the_wall_clock(sim, clock):
    run = sim.start()
    assert run.started_at == clock.now
    assert sim.counts.running == 50 and sim.counts.pending == 0
    assert all(30 <= task.duration <= 120 for task in sim.tasks)


def test_a_run_ends_with_every_task_completed_or_failed_and_counters_agree_at_every_step(sim):
    sim.start()
    last_progress = [0] * sim.total
    while sim.active:
        sim.step(0.7)
        assert_counts_match(sim)
        progress = [task.progress for task in sim.tasks]
        assert all(now >= before for now, before in zip(progress, last_progress, strict=True)), 'progress went back'
        last_progress = progress
    assert sim.state == RunState.COMPLETED
    assert sim.counts.completed + sim.counts.failed == 50
    assert sim.percent == 100
    assert sim.counts.completed and all(task.progress == 100 for task in sim.tasks
                                        if task.status == TaskStatus.COMPLETED)
    assert sim.run.finished_s <= 120.5


def test_tasks_take_their_duration_in_real_time_divided_by_speed(make_sim):
    sim = make_sim(min_duration=120, max_duration=120, speed=60, failure_rate=0)
    sim.start()
    sim.step(1.9)
    assert sim.counts.running == sim.total and all(task.progress == 95 for task in sim.tasks)
    sim.step(0.1)
    assert sim.counts.completed == sim.total and sim.state == RunState.COMPLETED


def test_the_same_seed_gives_exactly_the_same_run(make_sim):
    outcomes = []
    for _ in range(2):
        sim = make_sim(seed=42)
        sim.start()
        finish(sim, dt=1.3)
        outcomes.append((states(sim), [task.duration for task in sim.tasks], sim.run.finished_s))
    assert outcomes[0] == outcomes[1]
    other = make_sim(seed=43)
    other.start()
    finish(other, dt=1.3)
    assert states(other) != outcomes[0][0]


def test_a_run_without_a_seed_records_the_one_it_drew_so_it_can_be_repeated(make_sim):
    first = make_sim()
    run = first.start()
    finish(first)
    again = make_sim(seed=run.seed)
    again.start()
    finish(again)
    assert states(again) == states(first)


def test_failure_rate_zero_never_fails_and_one_always_fails_with_a_kind_of_error(make_sim):
    none_fail = make_sim(failure_rate=0, seed=1)
    none_fail.start()
    finish(none_fail)
    assert none_fail.counts.completed == 50

    all_fail = make_sim(failure_rate=1, seed=1)
    all_fail.start()
    finish(all_fail)
    assert all_fail.counts.failed == 50
    for task in all_fail.tasks:
        assert 1 <= task.progress <= 99, 'a task fails at a random point of its run'
        assert task.error == FAILURE_KINDS[task.progress % len(FAILURE_KINDS)]
    assert len({task.error for task in all_fail.tasks}) == len(FAILURE_KINDS), 'failures group into a few kinds'


def test_about_the_failure_rate_fails_over_many_tasks(make_sim):
    sim = make_sim(tasks=5000, failure_rate=0.2, seed=3)
    sim.start()
    finish(sim, dt=5)
    assert 900 <= sim.counts.failed <= 1100


def test_an_exception_in_one_task_fails_that_task_only_and_the_run_goes_on(clock):
    def faulty(task: Task, simulated_s: float) -> int:
        if task.id == 7 and simulated_s > 10:
            raise ZeroDivisionError('the sensor of task 7 broke')
        return linear_progress(task, simulated_s)

    from taskdemo.settings import RunSettings
    sim = Simulator(RunSettings(tasks=20, failure_rate=0, seed=5), clock=clock, progress_of=faulty)
    sim.start()
    finish(sim, dt=1)
    assert sim.tasks[7].status == TaskStatus.FAILED
    assert sim.tasks[7].error == 'ZeroDivisionError: the sensor of task 7 broke'
    assert [task.id for task in sim.tasks if task.status == TaskStatus.FAILED] == [7]
    assert sim.counts.completed == 19 and sim.state == RunState.COMPLETED


def test_one_step_emits_one_change_naming_only_the_tasks_whose_percent_moved(make_sim):
    sim = make_sim(tasks=10, min_duration=100, max_duration=100, failure_rate=0, seed=1)
    changes: list[Change] = []
    sim.subscribe(changes.append)
    sim.start()
    assert changes[-1].structure
    sim.step(0.5)  # half of one percent: nothing shows a new number
    assert len(changes) == 1
    sim.step(0.5)
    assert len(changes) == 2 and changes[-1].tasks == frozenset(range(10)) and not changes[-1].run


def test_every_listener_hears_every_change_in_order_and_a_failing_one_harms_nobody(sim, caplog):
    heard: list[int] = []

    def broken(change: Change) -> None:
        raise RuntimeError('a listener with a bug')

    sim.subscribe(broken)
    sim.subscribe(lambda change: heard.append(change.version))
    sim.start()
    sim.step(40)
    assert heard == [1, 2] and sim.version == 2
    assert sim.counts.completed, 'the step went on past the broken listener'
    assert 'a listener of the simulator failed on change 1' in caplog.text
    sim.unsubscribe(broken)
    caplog.clear()
    sim.cancel()
    assert heard == [1, 2, 3] and not caplog.text


def test_the_model_and_its_commands_load_without_any_web_or_ui_library():
    """What a process that only advances runs needs (a cluster's engine): no NiceGUI, no FastAPI."""
    code = ('import sys, taskdemo.simulator, taskdemo.control, taskdemo.view; '
            'print(sorted({name.split(".")[0] for name in sys.modules} & {"nicegui", "fastapi", "starlette"}))')
    loaded = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == '[]'


def test_a_listener_may_unsubscribe_itself_while_a_change_is_reported(sim):
    heard: list[str] = []

    def once(change: Change) -> None:
        heard.append('once')
        sim.unsubscribe(once)

    sim.subscribe(once)
    sim.subscribe(lambda change: heard.append('always'))
    sim.start()
    sim.cancel()
    assert heard == ['once', 'always', 'always']


def test_changes_since_collects_the_tasks_changed_after_a_version(make_sim):
    sim = make_sim(tasks=3, seed=2, failure_rate=0)
    sim.start()
    version = sim.version
    assert sim.changes_since(version) == set()
    sim.step(1.5)
    assert sim.changes_since(version) == {0, 1, 2}
    assert sim.changes_since(version - 1) is None, 'the start rebuilt everything: a full frame is needed'


def test_cancel_ends_unfinished_tasks_as_cancelled_and_keeps_finished_ones(make_sim):
    sim = make_sim(seed=9)
    sim.start()
    sim.step(60)
    finished_before = {task.id: task.status for task in sim.tasks if task.status.finished}
    assert finished_before and sim.cancel()
    assert sim.state == RunState.CANCELLED
    assert all(sim.tasks[i].status == status for i, status in finished_before.items())
    assert sim.counts.cancelled == 50 - len(finished_before) and sim.counts.running == 0
    sim.step(500)
    assert sim.counts.cancelled == 50 - len(finished_before), 'a cancelled run stays put'
    assert not sim.cancel(), 'nothing left to cancel'


def test_reset_during_a_run_puts_every_task_back_to_pending(sim):
    sim.start()
    sim.step(50)
    sim.reset()
    assert sim.state == RunState.IDLE and sim.run is None
    assert all(task.status == TaskStatus.PENDING and task.progress == 0 for task in sim.tasks)
    sim.step(50)
    assert sim.counts.pending == 50


def test_start_while_a_run_is_active_is_refused_and_the_run_untouched(sim):
    run = sim.start()
    sim.step(10)
    before = states(sim)
    with pytest.raises(RunActiveError):
        sim.start()
    assert sim.run is run and states(sim) == before


def test_a_finished_run_can_be_started_over_with_new_settings(sim):
    from taskdemo.settings import RunSettings
    sim.start()
    finish(sim)
    run = sim.start(RunSettings(tasks=8, seed=1))
    assert run.id == 2 and sim.total == 8 and sim.counts.running == 8
    assert sim.settings.tasks == 8, 'the new settings stay in force'


def test_a_huge_step_finishes_a_run_at_once(make_sim):
    sim = make_sim(tasks=1000, seed=4)
    sim.start()
    sim.step(10_000)
    assert sim.state == RunState.COMPLETED and sim.counts.finished == 1000


def test_the_inlined_fast_path_moves_tasks_exactly_as_linear_progress_does(make_sim, clock):
    from taskdemo.settings import RunSettings
    fast = make_sim(tasks=300, seed=8)
    slow = Simulator(RunSettings(tasks=300, seed=8), clock=clock, progress_of=lambda t, s: linear_progress(t, s))
    for sim in (fast, slow):
        sim.start()
    while fast.active or slow.active:
        fast.step(0.37)
        slow.step(0.37)
        assert states(fast) == states(slow)


def test_with_limited_concurrency_no_more_than_k_tasks_ever_run_and_the_rest_wait_in_order(make_sim):
    sim = make_sim(tasks=100, concurrency=10, seed=6)
    sim.start()
    started_order = []
    while sim.active:
        assert sim.counts.running <= 10
        assert sim.counts.running == 10 or sim.counts.pending == 0, 'a free slot is taken at once'
        for task in sim.tasks:
            if task.started_s is not None and task.id not in started_order:
                started_order.append(task.id)
        sim.step(0.9)
        assert_counts_match(sim)
    assert sim.counts.completed + sim.counts.failed == 100
    assert started_order == sorted(started_order), 'waiting tasks start in order'
    unlimited = make_sim(tasks=100, seed=6)
    unlimited.start()
    finish(unlimited, dt=0.9)
    assert sim.run.finished_s > 5 * unlimited.run.finished_s
    assert [t.status for t in sim.tasks] == [t.status for t in unlimited.tasks], 'the same plan, only queued'


def test_cancel_and_interrupt_with_tasks_still_waiting(make_sim):
    sim = make_sim(tasks=30, concurrency=5, seed=2)
    sim.start()
    sim.step(40)
    waiting = sim.counts.pending
    assert waiting > 0 and sim.interrupt()
    assert sim.counts.pending == waiting and sim.counts.interrupted == 5, 'waiting tasks never started'
    assert sim.resume() and sim.counts.running == 5
    sim.cancel()
    assert sim.counts.pending == 0 and sim.counts.running == 0
    assert sim.counts.cancelled >= waiting


# ---- retry ----------------------------------------------------------------------------------------------------

def finished_run(make_sim, **settings) -> Simulator:
    sim = make_sim(**{'tasks': 40, 'failure_rate': 0.5, 'seed': 3, **settings})
    sim.start()
    finish(sim)
    assert sim.counts.failed > 0 and sim.counts.completed > 0
    return sim


def test_retry_runs_only_the_failed_tasks_again_as_their_next_attempt(make_sim):
    sim = finished_run(make_sim)
    before = {task.id: (task.status, task.progress, task.finished_s, task.error) for task in sim.tasks}
    failed = sim.failed_tasks()
    assert sim.retry() == failed
    assert sim.active and sim.counts.failed == 0
    sim.step(0.5)
    for task in sim.tasks:
        if task.id in failed:
            first = task.earlier[0]
            assert task.attempt == 2 and len(task.earlier) == 1
            assert (first.number, first.progress, first.error) == (1, before[task.id][1], before[task.id][3])
            assert task.status == TaskStatus.RUNNING and task.error is None
        else:
            assert (task.status, task.progress, task.finished_s, task.error) == before[task.id], 'untouched'
            assert task.attempt == 1 and task.earlier == []
    finish(sim)
    assert sim.state == RunState.COMPLETED
    assert sim.counts.completed + sim.counts.failed == 40
    assert all(sim.tasks[i].finished_s > before[i][2] for i in failed)


def test_retry_by_error_message_or_ids_picks_just_those(make_sim):
    sim = finished_run(make_sim)
    (message, group), *_ = sim.error_groups()
    assert sim.failed_tasks(message) == group
    assert sim.retry(error=message) == group
    assert all(sim.tasks[i].status in {TaskStatus.PENDING, TaskStatus.RUNNING} for i in group)
    finish(sim)
    failed = sim.failed_tasks()
    assert sim.retry([failed[0]]) == [failed[0]]
    assert sim.counts.failed == len(failed) - 1


def test_retry_refuses_what_it_cannot_do_and_changes_nothing(make_sim):
    sim = make_sim(tasks=10, failure_rate=0.5, seed=3)
    with pytest.raises(RetryError, match='no finished run'):
        sim.retry()
    sim.start()
    with pytest.raises(RunActiveError, match='still running'):
        sim.retry()
    finish(sim)
    version = sim.version
    completed = next(task.id for task in sim.tasks if task.status == TaskStatus.COMPLETED)
    with pytest.raises(RetryError, match=f'task {completed} did not fail'):
        sim.retry([completed])
    with pytest.raises(RetryError, match='has no task 10 '):
        sim.retry([10])
    with pytest.raises(RetryError, match="no task failed with the error 'nope'"):
        sim.retry(error='nope')
    assert sim.version == version and sim.state == RunState.COMPLETED


def test_retry_keeps_the_concurrency_limit_and_is_the_same_again_from_the_same_seed(make_sim):
    def retried() -> list[tuple[float, int | None]]:
        sim = finished_run(make_sim, concurrency=3)
        sim.retry()
        while sim.active:
            assert sim.counts.running <= 3
            sim.step(0.5)
        return [(task.duration, task.fail_at) for task in sim.tasks]

    assert retried() == retried()


def test_a_retried_cancelled_run_retries_its_failures_and_leaves_the_cancelled_tasks(make_sim):
    sim = make_sim(tasks=30, failure_rate=0.6, min_duration=1, max_duration=100, seed=5)
    sim.start()
    sim.step(40)
    sim.cancel()
    cancelled = {task.id for task in sim.tasks if task.status == TaskStatus.CANCELLED}
    assert cancelled and sim.counts.failed
    sim.retry()
    finish(sim)
    assert {task.id for task in sim.tasks if task.status == TaskStatus.CANCELLED} == cancelled
