"""A run's events (model.RunEvent): the simulator logs each control action and each end with the run's clock, the
recorder stores them once each, and a restart gets them back, with a crash noted where the app did not stop cleanly.
A clean stop then resumes with every task's start untouched; a crash moves them to fit the percents saved."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from taskdemo.model import EventKind, RunState, TaskStatus
from taskdemo.recorder import Recorder
from taskdemo.simulator import Simulator
from taskdemo.store import Store

from .helpers import finish


def kinds(sim: Simulator) -> list[tuple[float, str, tuple[int, ...]]]:
    return [(event.at_s, event.kind.value, event.tasks) for event in sim.events]


def test_each_control_action_and_each_end_is_logged_at_the_run_clock(make_sim, clock):
    sim = make_sim(tasks=6, seed=4, failure_rate=0.5, min_duration=1, max_duration=2)
    clock.advance(10)
    sim.start()
    sim.step(0.5)
    sim.cancel_task(5)
    sim.step(0.25)
    sim.retry_task(5)
    finish(sim, dt=0.25)
    end = sim.run.elapsed_s
    sim.retry()
    retried = sim.events[-1].tasks
    sim.interrupt()
    sim.resume()
    sim.cancel()
    assert kinds(sim) == [(0.0, 'start', ()), (0.5, 'cancel_task', (5,)), (0.75, 'retry_task', (5,)),
                          (end, 'completed', ()), (end, 'retry', retried), (end, 'interrupted', ()),
                          (end, 'resume', ()), (end, 'cancel', ())]
    assert retried == tuple(sorted(retried)) and retried
    assert sim.events[0].wall == clock.now


def test_a_new_run_or_a_reset_starts_the_log_afresh(make_sim):
    sim = make_sim(tasks=3, seed=1)
    sim.start()
    sim.cancel()
    sim.start()
    assert kinds(sim) == [(0.0, 'start', ())]
    sim.reset()
    assert sim.events == []


def test_refused_commands_log_nothing(make_sim):
    sim = make_sim(tasks=3, seed=1)
    sim.start()
    before = list(sim.events)
    assert not sim.resume()
    for refused in (lambda: sim.retry(), lambda: sim.retry_task(0), lambda: sim.cancel_task(99)):
        with pytest.raises((ValueError, RuntimeError)):  # RunActiveError, RetryError
            refused()
    assert sim.events == before


async def test_events_are_stored_once_each_and_come_back_with_the_run(make_sim, tmp_path: Path):
    sim = make_sim(tasks=6, seed=4, failure_rate=0.5, min_duration=1, max_duration=2)
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    sim.step(0.5)
    await recorder.flush()
    sim.cancel_task(5)
    await recorder.flush()
    await recorder.flush()
    finish(sim, dt=0.25)
    await recorder.flush()
    await recorder.written()
    stored = recorder.store.events(sim.run.id)
    recorder.close()
    assert stored == sim.events and [event.kind for event in stored] == [
        EventKind.START, EventKind.CANCEL_TASK, EventKind.COMPLETED]


async def test_a_clean_stop_comes_back_as_it_was_and_resumes_with_every_start_untouched(make_sim, clock, tmp_path):
    sim = make_sim(tasks=8, seed=3, min_duration=4, max_duration=9, failure_rate=0)
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    sim.step(1.7)
    sim.interrupt()
    recorder.flush_now()
    recorder.close()
    starts = [task.started_s for task in sim.tasks]

    again, store = Simulator(sim.settings, clock=clock), Store(tmp_path)
    run, tasks = store.last_run()
    events = store.events_to_restore(run)
    assert [(event.kind, event.crash) for event in events][-1] == (EventKind.INTERRUPTED, False)
    again.restore(run, tasks, events)
    assert again.resume()
    assert [task.started_s for task in again.tasks] == starts
    assert again.events[-1].kind == EventKind.RESUME
    store.close()


async def test_a_crash_is_noted_on_the_restart_and_the_resume_fits_starts_to_the_saved_percents(make_sim, clock,
                                                                                                 tmp_path):
    sim = make_sim(tasks=8, seed=3, min_duration=4, max_duration=9, failure_rate=0)
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    sim.step(1.7)
    await recorder.flush(include_progress=False)  # the percents of this moment never reach the disk
    sim.step(0.6)
    recorder.close()  # as after a kill: no clean stop was written

    again, store = Simulator(sim.settings, clock=clock), Store(tmp_path)
    run, tasks = store.last_run()
    events = store.events_to_restore(run)
    crash = events[-1]
    assert (crash.kind, crash.crash, crash.at_s) == (EventKind.INTERRUPTED, True, run.elapsed_s)
    again.restore(run, tasks, events)
    again.resume()
    for task in again.tasks:
        assert task.status == TaskStatus.RUNNING
        assert task.started_s == run.elapsed_s - task.progress / 100 * task.duration / sim.settings.speed
    store.close()


def test_a_database_without_the_events_table_gains_it_and_its_runs_have_no_events(make_sim, tmp_path: Path):
    store = Store(tmp_path)
    store.close()
    with sqlite3.connect(tmp_path / 'taskdemo.sqlite3') as db:
        db.execute('DROP TABLE events')
    store = Store(tmp_path)
    assert store.events(1) == []
    sim = make_sim(tasks=2, seed=1)
    recorder = Recorder(sim, store)
    sim.start()
    sim.cancel()
    recorder.flush_now()
    recorder.close()
    reopened = Store(tmp_path)
    assert [event.kind for event in reopened.events(1)] == [EventKind.START, EventKind.CANCEL]
    assert reopened.last_run()[0].state == RunState.CANCELLED
    reopened.close()
