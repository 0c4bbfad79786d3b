"""ETA and throughput, against hand-computed cases on the fake clock, with stalled tasks and time limits."""
from __future__ import annotations

import pytest

from taskdemo.insight import eta_s, task_remaining_s, throughput_per_min
from taskdemo.simulator import Simulator, Task, TaskStatus

from .helpers import finish


def test_a_task_that_is_40_percent_done_after_20_s_needs_30_s_more():
    task = Task(id=0, status=TaskStatus.RUNNING, progress=40, started_s=10.0)
    assert task_remaining_s(task, run_elapsed_s=30.0) == pytest.approx(30.0)
    assert task_remaining_s(Task(id=1, status=TaskStatus.RUNNING, progress=0, started_s=0.0), 5.0) is None


def test_the_eta_waits_for_the_slowest_task_and_estimates_nothing_too_early(make_sim):
    sim = make_sim(tasks=3, min_duration=100, max_duration=100, failure_rate=0, seed=1)
    sim.start()
    assert eta_s(sim) is None, 'no task has shown progress yet: estimating'
    sim.tasks[2].duration = 200  # a slower task (the plan is the simulator's; the estimate only sees progress)
    sim.step(50)
    # tasks 0 and 1 are 50 % done after 50 s (50 s left); task 2 is 25 % done after 50 s (150 s left)
    assert eta_s(sim) == pytest.approx(150.0)


def test_with_limited_concurrency_the_eta_adds_the_queued_work(make_sim):
    sim = make_sim(tasks=4, concurrency=2, min_duration=100, max_duration=100, failure_rate=0, seed=1)
    sim.start()
    sim.step(40)
    # two tasks running, 40 % after 40 s: 60 s left each; two waiting, 100 s each (estimated from the running
    # ones: 40 s run + 60 s left), one per slot as they free up: 60 + 100 = 160 s
    assert eta_s(sim) == pytest.approx(160.0)
    finish(sim, dt=1)
    assert eta_s(sim) == 0.0 and sim.run.finished_s == pytest.approx(200.0, abs=1)


def test_throughput_is_tasks_finished_per_minute(make_sim):
    sim = make_sim(tasks=10, min_duration=30, max_duration=30, failure_rate=0, seed=1)
    assert throughput_per_min(sim) is None
    sim.start()
    sim.step(30)
    assert throughput_per_min(sim) == pytest.approx(20.0)  # 10 tasks in half a minute


def test_the_eta_is_none_without_a_run(sim: Simulator):
    assert eta_s(sim) is None


def even_run(make_sim, **settings) -> Simulator:
    """A started run of tasks of exactly 100 s that never fail: 1 % a second, stalled after 5 s without moving."""
    sim = make_sim(**{'tasks': 3, 'min_duration': 100, 'max_duration': 100, 'failure_rate': 0, 'seed': 1,
                      **settings})
    sim.start()
    return sim


def test_a_stalled_task_is_left_out_of_the_eta_which_is_that_of_the_others(make_sim):
    sim = even_run(make_sim)
    sim.tasks[2].stall_at = 40  # it stops at 40 s, for good
    sim.step(45)
    # not yet stalled: its rate so far (40 % in 45 s) counts, and it is the slowest: 67.5 s left
    assert sim.stalled_ids == frozenset() and eta_s(sim) == pytest.approx(67.5)
    sim.step(1)
    assert sim.stalled_ids == {2}
    assert eta_s(sim) == pytest.approx(54.0), 'the others, 46 % after 46 s, need 54 s more'
    sim.step(54)
    assert sim.active and sim.counts.running == 1 and eta_s(sim) == 0.0, 'only the stalled task is left'


def test_no_task_is_expected_to_run_past_its_time_limit(make_sim):
    sim = even_run(make_sim, tasks=2, task_timeout=60)
    sim.step(30)
    assert eta_s(sim) == pytest.approx(30.0), 'at its rate a task needs 70 s more, but it fails at 60 s'
    sim = even_run(make_sim, tasks=2, task_timeout=60, speed=2)
    sim.step(10)  # 20 simulated seconds: 20 % done; the limit is 30 real seconds from the start
    assert eta_s(sim) == pytest.approx(20.0)


def test_a_stalled_task_holds_its_slot_until_its_time_limit_or_for_good(make_sim):
    sim = even_run(make_sim, concurrency=2)
    sim.tasks[0].stall_at = 40
    sim.step(46)
    # task 1 needs 54 s more; task 2 waits for a slot: task 0 holds the other one, so it starts after task 1, and
    # takes about 100 s (46 s run + 54 s left, the typical task so far): 154 s
    assert sim.stalled_ids == {0} and eta_s(sim) == pytest.approx(154.0)
    sim = even_run(make_sim, concurrency=1)
    sim.tasks[0].stall_at = 40
    sim.step(46)
    assert eta_s(sim) is None, 'task 1 and 2 wait for a slot a stalled task may hold for ever: no honest number'
    sim = even_run(make_sim, concurrency=2, task_timeout=90)
    sim.tasks[0].stall_at = 40
    sim.step(46)
    # a 100 s task fails at the limit, 90 s: both slots free up 44 s from now (task 0 hangs till then, task 1 would
    # need 54 s more); task 2 then takes one, and is expected to take no longer than the limit: 44 + 90 = 134 s
    assert eta_s(sim) == pytest.approx(134.0)
