"""Hangs on disk: a task's planned hang, its times and its stalled flag are stored with it, a flag that moves alone is
written as a status change is, per-task cancel and retry are recorded, a data folder of the taskdemo before hangs
opens and goes on, and a run cut off while a task hung comes back with that hang, flagged when the rule says."""
from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from taskdemo.model import stall_after_s
from taskdemo.recorder import Recorder
from taskdemo.settings import RunSettings
from taskdemo.simulator import RunState, Simulator, TaskStatus
from taskdemo.store import FILE_NAME, Store

from .helpers import FakeClock, finish

HANGS = {'tasks': 8, 'failure_rate': 0.0, 'stall_rate': 1.0, 'seed': 2}  # every task hangs; half of them recover
DT = 0.5


def states(tasks) -> list[tuple]:
    return [(t.id, t.status, t.progress, t.duration, t.fail_at, t.started_s, t.finished_s, t.error, t.attempt,
             t.stall_at, t.stall_for, t.stalled_from, t.stalled_until, t.stalled, t.earlier) for t in tasks]


def hung(sim: Simulator) -> list[int]:
    """The running tasks that stand still in their hang now, flagged or not yet."""
    return [t.id for t in sim.tasks
            if t.status == TaskStatus.RUNNING and t.stalled_from is not None and t.stalled_until is None]


def step_until(condition, *sims: Simulator, seconds: float = 300.0) -> None:
    """Step the simulators together until `condition()` holds; fail if it does not within `seconds`."""
    elapsed = 0.0
    while not condition():
        assert elapsed < seconds, 'not within the time given'
        for sim in sims:
            sim.step(DT)
        elapsed += DT


async def stored(recorder: Recorder, run_id: int = 1):
    return await recorder.call(recorder.store.tasks, run_id)


async def test_a_run_with_hangs_comes_back_exactly(make_sim, tmp_path: Path):
    sim = make_sim(**{**HANGS, 'tasks': 30, 'task_timeout': 60.0})
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    for _ in range(40):
        sim.step(DT)
        await recorder.flush()
        assert states(await stored(recorder)) == states(sim.tasks), f'at {sim.run.elapsed_s} s'
    finish(sim)
    await recorder.flush()
    recorder.close()
    assert any(t.stalled_until is not None for t in sim.tasks), 'some hangs ended'
    assert any(t.error == 'timed out after 60 s' for t in sim.tasks), 'some ended by the time limit'
    reopened = Store(tmp_path)
    run, tasks = reopened.last_run()
    reopened.close()
    assert run.settings.stall_rate == 1.0 and run.settings.task_timeout == 60.0
    assert states(tasks) == states(sim.tasks)


async def test_a_stalled_flag_that_moves_alone_is_written_with_the_status_changes(make_sim, tmp_path: Path):
    sim = make_sim(**HANGS)
    recorder = Recorder(sim, Store(tmp_path), clock=lambda: 0.0)  # a clock that never reaches the progress flush
    sim.start()
    await recorder.flush(include_progress=False)
    before: dict[int, int] = {}

    def flagged_now() -> bool:
        before.update((t.id, t.progress) for t in sim.tasks if t.id not in sim.stalled_ids)
        return bool(sim.stalled_ids)

    step_until(flagged_now, sim)
    (flagged,) = sim.stalled_ids
    assert sim.tasks[flagged].progress == before[flagged], 'only the flag moved in that step'
    await recorder.flush(include_progress=False)
    assert states([(await stored(recorder))[flagged]]) == states([sim.tasks[flagged]])
    recovering = next(t for t in sim.tasks if t.stall_for and t.stalled_from is not None and t.stalled_until is None)
    seen = set()
    while recovering.stalled_until is None:  # flagged, then no longer when it moves again
        sim.step(DT)
        await recorder.flush(include_progress=False)
        row = (await stored(recorder))[recovering.id]
        assert row.stalled == recovering.stalled, f'task {recovering.id} at {sim.run.elapsed_s} s'
        seen.add(row.stalled)
    recorder.close()
    assert seen == {True, False}


async def test_cancel_and_retry_of_one_task_are_recorded_with_the_attempt_before(make_sim, tmp_path: Path):
    sim = make_sim(tasks=20, failure_rate=0.5, seed=4)
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    sim.step(20)
    await recorder.flush()
    running = next(t.id for t in sim.tasks if t.status == TaskStatus.RUNNING)
    sim.cancel_task(running)
    await recorder.flush(include_progress=False)
    assert (await stored(recorder))[running].status == TaskStatus.CANCELLED
    sim.retry_task(running)
    step_until(sim.failed_tasks, sim)
    failed = sim.failed_tasks()
    sim.retry_task(failed[0])
    await recorder.flush(include_progress=False)
    tasks = await stored(recorder)
    assert (tasks[running].attempt, tasks[running].earlier[0].error) == (2, None), 'the cancelled attempt is kept'
    assert (tasks[failed[0]].attempt, tasks[failed[0]].status) == (2, TaskStatus.RUNNING)
    assert tasks[failed[0]].earlier[0].error == sim.tasks[failed[0]].earlier[0].error is not None
    untouched = [i for i in range(20) if i not in {running, failed[0]}]
    assert all(tasks[i].attempt == 1 for i in untouched)
    finish(sim)
    await recorder.flush()
    recorder.close()
    reopened = Store(tmp_path)
    _, tasks = reopened.last_run()
    reopened.close()
    assert states(tasks) == states(sim.tasks)


def test_a_data_folder_of_the_taskdemo_before_hangs_opens_and_goes_on(tmp_path: Path, make_sim):
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '3');
        CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at REAL NOT NULL, settings TEXT NOT NULL,
            seed INTEGER NOT NULL, state TEXT NOT NULL, elapsed_s REAL NOT NULL DEFAULT 0, finished_s REAL,
            total INTEGER NOT NULL, completed INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
            cancelled INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE tasks (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, id INTEGER NOT NULL,
            status TEXT NOT NULL, progress INTEGER NOT NULL, duration REAL NOT NULL, fail_at INTEGER,
            started_s REAL, finished_s REAL, error TEXT, attempt INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (run_id, id)) WITHOUT ROWID;
        CREATE TABLE attempts (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            task_id INTEGER NOT NULL, number INTEGER NOT NULL, duration REAL NOT NULL, progress INTEGER NOT NULL,
            started_s REAL, finished_s REAL, error TEXT, PRIMARY KEY (run_id, task_id, number)) WITHOUT ROWID;
        INSERT INTO runs VALUES (1, 1000.0, '{"tasks": 2, "speed": 1.0}', 5, 'running', 30.0, NULL, 2, 1, 0, 0);
        INSERT INTO tasks VALUES (1, 0, 'completed', 100, 20.0, NULL, 0.0, 20.0, NULL, 1);
        INSERT INTO tasks VALUES (1, 1, 'in_progress', 40, 50.0, NULL, 0.0, NULL, NULL, 2);
        INSERT INTO attempts VALUES (1, 1, 1, 40.0, 10, 0.0, 4.0, 'Simulated failure: out of memory');
    """)
    db.close()
    store = Store(tmp_path)
    run, tasks = store.last_run()
    assert run.state == RunState.INTERRUPTED and run.settings.stall_rate == 0 and run.settings.task_timeout is None
    assert [(t.status, t.progress, t.attempt, t.stall_at, t.stall_for, t.stalled_from, t.stalled_until, t.stalled)
            for t in tasks] == [(TaskStatus.COMPLETED, 100, 1, None, None, None, None, False),
                                (TaskStatus.INTERRUPTED, 40, 2, None, None, None, None, False)]
    assert tasks[1].earlier[0].error == 'Simulated failure: out of memory'
    store.close()

    sim = make_sim(**HANGS)  # the next run, with hangs, on the same data folder
    recorder = Recorder(sim, Store(tmp_path))
    sim.number_runs_after(recorder.store.newest_run_id())
    sim.start()
    step_until(lambda: sim.stalled_ids, sim)
    recorder.flush_now()  # and then killed: the run is stored as running
    recorder.close()
    reopened = Store(tmp_path)  # a second opening finds the columns there
    run, tasks = reopened.last_run()
    assert run.id == 2 and states(tasks) == states(_interrupted(sim.tasks))
    assert len(reopened.tasks(1)) == 2, 'the run of before is still there'
    reopened.close()


@pytest.mark.parametrize('stop', ['clean', 'kill'])
async def test_a_run_cut_off_mid_hang_comes_back_with_the_hang(make_sim, clock: FakeClock, tmp_path: Path, stop):
    sim, reference = make_sim(**HANGS), make_sim(**HANGS)  # the reference runs on without a restart
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    reference.start()
    # on to a moment when one task is flagged, and another hangs but is not flagged yet and will recover
    step_until(lambda: sim.stalled_ids and any(sim.tasks[i].stall_for for i in set(hung(sim)) - sim.stalled_ids),
               sim, reference)
    (flagged,) = sim.stalled_ids
    waiting = next(i for i in hung(sim) if i not in sim.stalled_ids and sim.tasks[i].stall_for)
    planned = {i: (sim.tasks[i].stall_at, sim.tasks[i].stalled_from) for i in hung(sim)}
    if stop == 'clean':
        sim.interrupt()
        recorder.flush_now()
    else:  # as a kill right after a flush: the run is stored as running
        await recorder.flush()
    recorder.close()

    again = Simulator(RunSettings(), clock=clock)
    store = Store(tmp_path)
    again.restore(*store.last_run())
    store.close()
    assert again.state == RunState.INTERRUPTED and again.stalled_ids == frozenset(), 'only running tasks are flagged'
    assert {i: (again.tasks[i].stall_at, again.tasks[i].stalled_from) for i in planned} == planned
    assert again.resume()
    assert again.stalled_ids == {flagged}, 'a task flagged before is flagged again at once'
    task, speed = again.tasks[waiting], again.run.settings.speed
    flag_at = task.stalled_from + stall_after_s(task.duration) / speed
    recover_at = task.stalled_from + task.stall_for / speed
    while task.stalled_until is None:
        again.step(DT)
        reference.step(DT)
        now = again.run.elapsed_s
        assert (waiting in again.stalled_ids) == (flag_at < now < recover_at), f'task {waiting} at {now} s'
        assert task.progress == task.stall_at or now >= recover_at
        for i in planned:  # the tasks that hung go on exactly as without the restart
            assert (again.tasks[i].progress, again.tasks[i].stalled) == \
                   (reference.tasks[i].progress, reference.tasks[i].stalled), f'task {i} at {now} s'
    assert task.stalled_until == pytest.approx(recover_at) and now - DT < recover_at <= now
    assert again.tasks[flagged].stall_for is None and flagged in again.stalled_ids, 'a hang for good goes on'


def _interrupted(tasks):
    """The tasks as a restart shows a run that was going: running ones interrupted, and no longer flagged."""
    return [replace(t, status=TaskStatus.INTERRUPTED, stalled=False) if t.status == TaskStatus.RUNNING else t
            for t in tasks]
