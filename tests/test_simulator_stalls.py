"""Hangs, stalls, time limits and the control of one task, in the simulator, on simulated time (`step(dt)`).

A task's hang is part of its plan (`stall_at`, `stall_for`); most tests here set it on a task of a run whose tasks
all last exactly 100 s, so that the moments are plain numbers: at speed 1 a percent takes 1 s, and a task whose
percent stands still counts as stalled after max(5 s, 3 x 1 s) = 5 s.
"""
from __future__ import annotations

import pytest

from taskdemo.model import plan_tasks, stall_after_s, timeout_message
from taskdemo.settings import RunSettings
from taskdemo.simulator import Change, RetryError, RunState, Simulator, TaskStateError, TaskStatus

from .helpers import finish


def even_run(tasks: int = 3, **settings) -> tuple[Simulator, list[Change]]:
    """A started run of `tasks` tasks of exactly 100 s each that never fail unless told, and its changes."""
    sim = Simulator(RunSettings(tasks=tasks, min_duration=100, max_duration=100, failure_rate=0, seed=7,
                                **settings))
    changes: list[Change] = []
    sim.subscribe(changes.append)
    sim.start()
    return sim, changes


def hang(sim: Simulator, task_id: int, at: int, lasting: float | None) -> None:
    """Give a task of a run that has not moved yet a hang at `at` percent lasting `lasting` simulated seconds."""
    task = sim.tasks[task_id]
    task.stall_at, task.stall_for = at, lasting


def advance_to(sim: Simulator, real_s: float) -> None:
    assert sim.run is not None
    sim.step(real_s - sim.run.elapsed_s)


def snapshot(sim: Simulator, *, but: int) -> list[tuple]:
    return [(t.id, t.status, t.progress, t.error, t.attempt, t.started_s, t.finished_s, t.stalled)
            for t in sim.tasks if t.id != but]


# ---- the plan ----------------------------------------------------------------------------------------------------

def test_hangs_do_not_change_what_a_seed_plans_otherwise():
    """Hangs draw from their own stream: a seed plans the same durations and failures at any stall rate."""
    plain = plan_tasks(RunSettings(tasks=500), seed=42)
    hanging = plan_tasks(RunSettings(tasks=500, stall_rate=0.5), seed=42)
    assert [(t.duration, t.fail_at) for t in plain] == [(t.duration, t.fail_at) for t in hanging]
    assert all(t.stall_at is None for t in plain)
    assert plan_tasks(RunSettings(tasks=500, stall_rate=0.5), seed=42) == hanging, 'the same seed, the same hangs'


def test_a_stall_rate_of_one_makes_every_task_hang_unless_it_fails_first_and_about_half_recover():
    tasks = plan_tasks(RunSettings(tasks=2000, stall_rate=1.0, failure_rate=0.3), seed=3)
    for task in tasks:
        if task.fail_at is not None and task.stall_at is None:
            continue  # its failure comes first (the draw put the hang at or after it)
        assert task.stall_at is not None and 1 <= task.stall_at <= 99
        assert task.fail_at is None or task.stall_at < task.fail_at
    hangs = [t for t in tasks if t.stall_at is not None]
    recovering = [t for t in hangs if t.stall_for is not None]
    assert len(hangs) > 1500
    assert 0.4 < len(recovering) / len(hangs) < 0.6, len(recovering) / len(hangs)
    # some are too short to be called stalled, most are long enough
    short = sum(t.stall_for <= stall_after_s(t.duration) for t in recovering)
    assert 0 < short < len(recovering) / 2


def test_the_stall_rule_is_five_seconds_or_three_steps_of_the_task():
    assert stall_after_s(100) == 5.0  # steps of 1 s: 3 s is less than the floor
    assert stall_after_s(1000) == 30.0  # steps of 10 s
    assert stall_after_s(0.5) == 5.0


# ---- seeing a stall ----------------------------------------------------------------------------------------------

def test_a_hang_at_40_percent_is_flagged_exactly_when_the_rule_says_and_not_before():
    sim, changes = even_run()
    hang(sim, 1, at=40, lasting=None)
    advance_to(sim, 40.0)
    task = sim.tasks[1]
    assert (task.progress, task.stalled_from, task.stalled) == (40, 40.0, False)
    advance_to(sim, 44.5)
    assert task.progress == 40 and not task.stalled, 'it stopped 4.5 s ago: not yet'
    advance_to(sim, 45.0)
    assert not task.stalled and sim.stalled_ids == frozenset(), 'exactly 5 s is not longer than 5 s'
    changes.clear()
    advance_to(sim, 45.01)
    assert task.stalled and task.status == TaskStatus.RUNNING and task.progress == 40
    assert sim.stalled_ids == frozenset({1})
    assert any(1 in change.tasks for change in changes), 'the flag is a change the viewers hear of'
    assert sim.tasks[0].progress == 45 and not sim.tasks[0].stalled, 'the others go on'


def test_a_long_task_gets_three_of_its_own_steps_before_it_counts_as_stalled():
    sim, _ = even_run(tasks=1, speed=10)
    task = sim.tasks[0]
    task.duration = 1000.0  # a percent every 10 simulated seconds: stalled after 30 s, not 5
    hang(sim, 0, at=20, lasting=None)
    advance_to(sim, 20.0)  # 200 simulated seconds: it reached 20 % and stopped
    assert task.progress == 20 and task.stalled_from == 20.0
    advance_to(sim, 22.9)  # 29 s of simulated stillness
    assert not task.stalled
    advance_to(sim, 23.01)
    assert task.stalled


def test_a_hang_that_ends_clears_the_flag_and_the_task_goes_on_as_if_it_had_not_been():
    sim, changes = even_run()
    hang(sim, 0, at=40, lasting=20.0)
    advance_to(sim, 50.0)
    task = sim.tasks[0]
    assert task.stalled
    changes.clear()
    advance_to(sim, 60.0)
    assert not task.stalled and sim.stalled_ids == frozenset()
    assert (task.stalled_from, task.stalled_until) == (40.0, 60.0)
    assert any(0 in change.tasks for change in changes), 'moving again is a change too'
    advance_to(sim, 70.5)
    assert task.progress == 50
    advance_to(sim, 100.0)
    assert sim.tasks[1].status == TaskStatus.COMPLETED and task.progress == 80
    advance_to(sim, 119.9)
    assert task.status == TaskStatus.RUNNING and task.progress == 99
    advance_to(sim, 120.0)
    assert task.status == TaskStatus.COMPLETED and task.finished_s == 120.0


def test_a_short_hang_is_never_flagged():
    sim, changes = even_run(tasks=1)
    hang(sim, 0, at=10, lasting=4.0)
    for _ in range(200):
        sim.step(0.1)
        assert not sim.tasks[0].stalled
    assert sim.tasks[0].stalled_until == 14.0 and sim.tasks[0].progress == 16


def test_a_task_that_fails_or_ends_is_no_longer_stalled():
    sim, _ = even_run()
    hang(sim, 0, at=40, lasting=None)
    advance_to(sim, 50.0)
    assert sim.stalled_ids == {0}
    sim.cancel()
    assert sim.stalled_ids == frozenset() and not sim.tasks[0].stalled


# ---- time limits -------------------------------------------------------------------------------------------------

def test_the_time_limit_fails_a_task_at_exactly_s_with_its_own_error():
    sim, changes = even_run(task_timeout=50.0)
    advance_to(sim, 49.9)
    assert {t.status for t in sim.tasks} == {TaskStatus.RUNNING}
    changes.clear()
    advance_to(sim, 50.0)
    for task in sim.tasks:
        assert (task.status, task.error, task.progress, task.finished_s) == (
            TaskStatus.FAILED, 'timed out after 50 s', 49, 50.0)
    assert sim.error_groups() == [(timeout_message(50.0), [0, 1, 2])]
    assert sim.state == RunState.COMPLETED
    assert changes[-1].transitions == {0, 1, 2}


def test_a_task_that_hangs_for_good_is_ended_by_the_time_limit():
    sim, _ = even_run(tasks=2, task_timeout=90.0)
    hang(sim, 0, at=40, lasting=None)
    sim.tasks[1].duration = 80.0
    advance_to(sim, 89.0)
    assert sim.tasks[0].stalled and sim.active
    assert sim.tasks[1].status == TaskStatus.COMPLETED
    advance_to(sim, 90.0)
    assert sim.tasks[0].status == TaskStatus.FAILED and sim.tasks[0].error == 'timed out after 90 s'
    assert sim.stalled_ids == frozenset() and sim.state == RunState.COMPLETED


def test_a_limit_longer_than_every_task_changes_nothing():
    with_limit, _ = even_run(task_timeout=100.5)
    without, _ = even_run()
    finish(with_limit, dt=0.25)
    finish(without, dt=0.25)
    assert [(t.status, t.finished_s) for t in with_limit.tasks] == [(t.status, t.finished_s) for t in without.tasks]


def test_a_timed_out_task_can_be_retried_as_its_next_attempt():
    sim, _ = even_run(tasks=2, task_timeout=50.0)
    advance_to(sim, 50.0)
    assert sim.retry(error='timed out after 50 s') == [0, 1]
    assert [t.attempt for t in sim.tasks] == [2, 2]
    assert sim.tasks[0].earlier[-1].error == 'timed out after 50 s'


# ---- one task ----------------------------------------------------------------------------------------------------

def test_cancelling_one_running_task_leaves_every_other_task_untouched_and_the_run_goes_on():
    sim, changes = even_run(tasks=5)
    advance_to(sim, 30.0)
    others = snapshot(sim, but=2)
    changes.clear()
    task = sim.cancel_task(2)
    assert (task.status, task.progress, task.finished_s) == (TaskStatus.CANCELLED, 30, 30.0)
    assert snapshot(sim, but=2) == others
    assert [(c.tasks, c.transitions, c.run) for c in changes] == [({2}, {2}, False)]
    assert sim.active and sim.counts.cancelled == 1
    finish(sim)
    assert sim.state == RunState.COMPLETED
    assert [t.status for t in sim.tasks] == [TaskStatus.COMPLETED] * 2 + [TaskStatus.CANCELLED] + \
        [TaskStatus.COMPLETED] * 2
    assert sim.tasks[2].progress == 30, 'a cancelled task never moves again'


def test_cancelling_a_waiting_task_lets_the_next_one_start_in_its_turn():
    sim, _ = even_run(tasks=3, concurrency=1)
    sim.cancel_task(1)
    assert [t.status for t in sim.tasks] == [TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.PENDING]
    advance_to(sim, 100.0)
    assert [t.status for t in sim.tasks] == [TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.RUNNING]


def test_cancelling_a_running_task_frees_its_slot_at_once():
    sim, _ = even_run(tasks=3, concurrency=1)
    advance_to(sim, 10.0)
    sim.cancel_task(0)
    assert sim.tasks[1].status == TaskStatus.RUNNING and sim.tasks[1].started_s == 10.0


def test_cancelling_the_last_unfinished_task_ends_the_run():
    sim, changes = even_run(tasks=2)
    sim.tasks[1].duration = 10.0
    advance_to(sim, 10.0)
    assert sim.tasks[1].status == TaskStatus.COMPLETED
    changes.clear()
    sim.cancel_task(0)
    assert sim.state == RunState.COMPLETED and changes[-1].run


def test_cancelling_a_stalled_task_clears_the_flag():
    sim, _ = even_run()
    hang(sim, 1, at=40, lasting=None)
    advance_to(sim, 50.0)
    sim.cancel_task(1)
    assert sim.stalled_ids == frozenset() and sim.tasks[1].status == TaskStatus.CANCELLED


@pytest.mark.parametrize('when', ['finished task', 'no active run', 'unknown id'])
def test_a_cancel_that_cannot_be_done_is_refused_and_changes_nothing(when):
    sim, changes = even_run(tasks=2)
    task_id = 0
    if when == 'finished task':
        sim.tasks[0].duration = 10.0
        advance_to(sim, 10.0)
    elif when == 'no active run':
        finish(sim)
    else:
        task_id = 2
    before, version = snapshot(sim, but=-1), sim.version
    with pytest.raises(RetryError if when == 'unknown id' else TaskStateError):
        sim.cancel_task(task_id)
    assert (snapshot(sim, but=-1), sim.version) == (before, version)


def test_retrying_one_failed_task_while_the_run_goes_on_leaves_the_others_alone():
    sim, _ = even_run(tasks=3)
    sim.tasks[0].fail_at = 20
    advance_to(sim, 20.0)
    assert sim.tasks[0].status == TaskStatus.FAILED
    others = snapshot(sim, but=0)
    task = sim.retry_task(0)
    assert (task.status, task.attempt, task.progress, task.started_s) == (TaskStatus.RUNNING, 2, 0, 20.0)
    assert task.earlier[0].error == sim.tasks[0].earlier[0].error and task.earlier[0].progress == 20
    assert snapshot(sim, but=0) == others
    assert sim.active


def test_retrying_a_cancelled_task_after_the_run_runs_it_again():
    sim, changes = even_run(tasks=2)
    sim.cancel_task(1)
    finish(sim)
    assert sim.state == RunState.COMPLETED
    changes.clear()
    sim.retry_task(1)
    assert sim.active and sim.tasks[1].status == TaskStatus.RUNNING and sim.tasks[1].attempt == 2
    assert changes[0].run, 'the run is going again'
    finish(sim)
    assert [t.status for t in sim.tasks] == [TaskStatus.COMPLETED, TaskStatus.COMPLETED]


@pytest.mark.parametrize('when', ['running task', 'completed task', 'interrupted run', 'unknown id'])
def test_a_retry_that_cannot_be_done_is_refused_and_changes_nothing(when):
    sim, _ = even_run(tasks=2)
    task_id = 0
    if when == 'completed task':
        finish(sim)
    elif when == 'interrupted run':
        sim.cancel_task(0)
        sim.interrupt()
    elif when == 'unknown id':
        task_id = -1
    before, version = snapshot(sim, but=-1), sim.version
    with pytest.raises(TaskStateError if when == 'interrupted run' else RetryError):
        sim.retry_task(task_id)
    assert (snapshot(sim, but=-1), sim.version) == (before, version)


# ---- interrupted mid-hang ----------------------------------------------------------------------------------------

def test_a_run_interrupted_mid_hang_resumes_with_the_hang_where_it_was():
    sim, _ = even_run(tasks=1)
    hang(sim, 0, at=40, lasting=20.0)
    advance_to(sim, 47.0)
    task = sim.tasks[0]
    assert task.stalled
    sim.interrupt()
    assert not task.stalled and sim.stalled_ids == frozenset(), 'an interrupted task is not running, so not stalled'
    sim.resume()
    sim.step(0.0)
    assert task.stalled, 'it has still not moved for 7 s'
    advance_to(sim, 60.0)
    assert not task.stalled and task.stalled_until == 60.0
    advance_to(sim, 120.0)
    assert task.status == TaskStatus.COMPLETED


def test_a_restored_task_that_was_cut_off_while_stalled_is_not_stalled():
    sim, _ = even_run(tasks=1)
    hang(sim, 0, at=40, lasting=None)
    advance_to(sim, 50.0)
    run, tasks = sim.run, sim.tasks
    tasks[0].status = TaskStatus.INTERRUPTED  # as the store gives back a run that was cut off
    run.state = RunState.INTERRUPTED
    fresh = Simulator(RunSettings(tasks=1))
    fresh.restore(run, tasks)
    assert fresh.stalled_ids == frozenset() and not fresh.tasks[0].stalled
    fresh.resume()
    fresh.step(0.0)
    assert fresh.stalled_ids == {0}
