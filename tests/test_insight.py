"""ETA and throughput, against hand-computed cases on the fake clock."""
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
