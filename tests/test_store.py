"""Runs on disk: what the recorder writes comes back after a restart, exactly, and a bad file loses nothing else."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from taskdemo.recorder import Recorder
from taskdemo.schema import SCHEMA_VERSION
from taskdemo.settings import RunSettings
from taskdemo.simulator import RunState, Simulator, TaskStatus
from taskdemo.store import FILE_NAME, DataDirError, Store

from .environment import tmpfs
from .helpers import finish


def states(tasks) -> list[tuple]:
    return [(t.id, t.status, t.progress, t.duration, t.fail_at, t.started_s, t.finished_s, t.error, t.attempt,
             t.stall_at, t.stall_for, t.stalled_from, t.stalled_until, t.stalled, t.earlier) for t in tasks]


@pytest.fixture
def store(tmp_path: Path):
    store = Store(tmp_path, keep_runs=3)
    yield store
    store.close()


async def test_a_finished_run_comes_back_exactly(sim: Simulator, tmp_path: Path):
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    finish(sim)
    await recorder.flush()
    recorder.close()
    reopened = Store(tmp_path)
    run, tasks = reopened.last_run()
    assert run.id == sim.run.id and run.state == RunState.COMPLETED and run.seed == sim.run.seed
    assert run.settings == sim.settings and run.finished_s == sim.run.finished_s
    assert states(tasks) == states(sim.tasks)
    reopened.close()


async def test_settings_and_every_task_are_written_with_the_first_flush_of_a_run(make_sim, tmp_path: Path):
    sim = make_sim(tasks=2000, seed=3)
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    await recorder.flush(include_progress=False)
    row = await recorder.call(recorder.store.run, 1)
    assert row.settings == sim.settings.as_dict() and row.seed == 3 and row.state == 'running'
    assert len(await recorder.call(recorder.store.tasks, 1)) == 2000
    recorder.close()


async def test_without_the_progress_flush_only_status_changes_are_written(make_sim, tmp_path: Path):
    sim = make_sim(tasks=50, seed=3)
    recorder = Recorder(sim, Store(tmp_path), clock=lambda: 0.0)  # a clock that never reaches the progress flush
    sim.start()
    await recorder.flush(include_progress=False)
    sim.step(60)
    await recorder.flush(include_progress=False)
    stored = {task.id: task for task in await recorder.call(recorder.store.tasks, 1)}
    assert sim.counts.finished and any(task.progress for task in sim.tasks if not task.status.finished)
    for task in sim.tasks:
        if task.status.finished:
            assert states([stored[task.id]]) == states([task]), 'a finished task is written at the next flush'
        else:
            assert stored[task.id].progress == 0, 'percent changes wait for the slower progress flush'
    await recorder.flush(include_progress=True)
    stored = await recorder.call(recorder.store.tasks, 1)
    assert states(stored) == states(sim.tasks)
    recorder.close()


async def test_a_run_cut_off_mid_way_comes_back_interrupted_and_resumes(make_sim, clock, tmp_path: Path):
    sim = make_sim(seed=21)
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    sim.step(50)
    await recorder.flush()
    finished = {t.id: (t.status, t.progress, t.error) for t in sim.tasks if t.status.finished}
    running = {t.id: t.progress for t in sim.tasks if t.status == TaskStatus.RUNNING}
    assert finished and running
    recorder.close()  # as after a kill: the run is stored as running

    again = Simulator(RunSettings(), clock=clock)
    store = Store(tmp_path)
    again.restore(*store.last_run())
    assert again.state == RunState.INTERRUPTED
    for task in again.tasks:
        if task.id in finished:
            assert (task.status, task.progress, task.error) == finished[task.id]
        else:
            assert task.status == TaskStatus.INTERRUPTED and task.progress == running[task.id]
    assert again.counts.interrupted == len(running)
    assert again.resume()
    finish(again)
    assert again.state == RunState.COMPLETED
    reference = make_sim(seed=21)
    reference.start()
    finish(reference)
    assert [(t.status, t.error) for t in again.tasks] == [(t.status, t.error) for t in reference.tasks], \
        'a resumed run ends as the same run would have ended without the interruption'
    assert again.start().id == sim.run.id + 1, 'runs after a restart are numbered on'
    store.close()


async def test_history_keeps_the_newest_runs_only(make_sim, tmp_path: Path):
    sim = make_sim(tasks=5, seed=1)
    store = Store(tmp_path, keep_runs=3)
    recorder = Recorder(sim, store)
    for _ in range(5):
        sim.start()
        finish(sim)
        await recorder.flush()
    assert [row.id for row in await recorder.call(store.runs)] == [5, 4, 3]
    assert await recorder.call(store.tasks, 1) == []
    recorder.close()


def test_a_corrupt_database_is_moved_aside_and_a_fresh_one_made(tmp_path: Path, caplog):
    (tmp_path / FILE_NAME).write_bytes(b'this is not a database' * 100)
    store = Store(tmp_path)
    assert store.runs() == []
    aside = [p.name for p in tmp_path.iterdir() if '.corrupt-' in p.name]
    assert len(aside) == 1 and 'moved it aside' in caplog.text
    store.close()


def test_a_read_only_data_folder_is_one_clear_error(tmp_path: Path):
    with tmpfs(tmp_path / 'disk', '64k', read_only=True) as disk:  # root writes anywhere, but not there
        with pytest.raises(DataDirError, match='cannot be written: Read-only file system'):
            Store(disk / 'sub')
        with pytest.raises(DataDirError, match='cannot be written: Read-only file system'):
            Store(disk)


def test_a_data_folder_that_is_a_file_is_one_clear_error(tmp_path: Path):
    (tmp_path / 'file').write_text('x')
    with pytest.raises(DataDirError, match='cannot be written'):
        Store(tmp_path / 'file')


async def test_a_failed_write_is_retried_and_loses_nothing(sim: Simulator, tmp_path: Path, caplog):
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    await recorder.flush()
    blocker = sqlite3.connect(tmp_path / FILE_NAME, timeout=0)
    blocker.execute('BEGIN EXCLUSIVE')  # another process holds the database
    recorder.store._db.execute('PRAGMA busy_timeout = 0')
    sim.step(50)
    await recorder.flush()
    sim.step(10)  # still running (the slowest task takes 119.5 s)
    await recorder.flush()
    assert recorder.failed_writes == 2 and caplog.text.count('could not write') == 1, 'one line per outage'
    blocker.execute('ROLLBACK')
    blocker.close()
    await recorder.flush()  # the rows kept in memory go first
    assert states(await recorder.call(recorder.store.tasks, 1)) == states(sim.tasks)
    assert recorder.failed_writes == 0 and 'works again' in caplog.text
    recorder.close()


async def test_a_run_reset_right_after_it_ended_is_stored_as_it_ended(sim: Simulator, tmp_path: Path):
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    await recorder.flush()
    finish(sim)
    ended = states(sim.tasks)
    sim.reset()  # before the recorder's next flush
    sim.start()
    await recorder.flush()
    first = await recorder.call(recorder.store.run, 1)
    tasks = await recorder.call(recorder.store.tasks, 1)
    recorder.close()
    assert first.state == 'completed' and states(tasks) == ended


async def test_a_run_cut_off_before_its_first_batch_is_on_disk_and_planned_again_from_its_seed(make_sim, clock,
                                                                                             tmp_path: Path):
    sim = make_sim(seed=13)
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()  # its row is written now; no batch has been flushed
    sim.step(1)
    recorder.close()

    store = Store(tmp_path)
    run, tasks = store.last_run()
    assert run.seed == 13 and run.state == RunState.INTERRUPTED and len(tasks) == 50
    again = Simulator(RunSettings(), clock=clock)
    again.restore(run, tasks)
    assert again.resume()
    finish(again)
    reference = make_sim(seed=13)
    reference.start()
    finish(reference)
    assert [(t.status, t.error) for t in again.tasks] == [(t.status, t.error) for t in reference.tasks]
    store.close()


async def test_a_retried_run_comes_back_with_its_attempts_and_earlier_failures(make_sim, tmp_path: Path):
    sim = make_sim(tasks=30, failure_rate=0.5, seed=4)
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    finish(sim)
    retried = sim.retry()
    finish(sim)
    await recorder.flush()
    recorder.close()
    reopened = Store(tmp_path)
    _, tasks = reopened.last_run()
    reopened.close()
    assert states(tasks) == states(sim.tasks)
    assert [task.id for task in tasks if task.attempt == 2 and task.earlier[0].error] == retried


def test_a_database_of_schema_1_is_brought_up_to_date_and_keeps_its_runs(tmp_path: Path):
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at REAL NOT NULL, settings TEXT NOT NULL,
            seed INTEGER NOT NULL, state TEXT NOT NULL, elapsed_s REAL NOT NULL DEFAULT 0, finished_s REAL,
            total INTEGER NOT NULL, completed INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
            cancelled INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE tasks (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, id INTEGER NOT NULL,
            status TEXT NOT NULL, progress INTEGER NOT NULL, duration REAL NOT NULL, fail_at INTEGER,
            started_s REAL, finished_s REAL, error TEXT, PRIMARY KEY (run_id, id)) WITHOUT ROWID;
        INSERT INTO runs VALUES (1, 1000.0, '{"tasks": 1}', 5, 'completed', 30.0, 30.0, 1, 0, 1, 0);
        INSERT INTO tasks VALUES (1, 0, 'failed', 40, 50.0, 40, 0.0, 20.0, 'Simulated failure for task 0');
    """)
    db.close()
    store = Store(tmp_path)
    (task,) = store.tasks(1)
    version = store._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    store.close()
    assert version == str(SCHEMA_VERSION)
    assert (task.status, task.progress, task.error, task.attempt, task.earlier) == (
        TaskStatus.FAILED, 40, 'Simulated failure for task 0', 1, [])


async def test_after_a_reset_a_restart_shows_an_idle_board_until_the_next_run(sim: Simulator, tmp_path: Path):
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    sim.step(30)
    sim.reset()
    await recorder.flush()
    recorder.close()
    reopened = Store(tmp_path)
    assert reopened.last_run() is None and reopened.run(1).state == 'cancelled'
    assert reopened.newest_run_id() == 1
    reopened.close()
    sim = Simulator(sim.settings)  # as after a restart
    recorder = Recorder(sim, Store(tmp_path))
    sim.number_runs_after(recorder.store.newest_run_id())
    sim.start()
    await recorder.flush()
    recorder.close()
    reopened = Store(tmp_path)
    run, _ = reopened.last_run()
    reopened.close()
    assert run.id == 2


async def test_a_percent_alone_is_written_as_the_percent_alone(make_sim, tmp_path: Path):
    sim = make_sim(tasks=20, failure_rate=0, seed=5)
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    await recorder.flush()  # a new run: whole rows
    sim.step(10)
    batch = recorder._collect(include_progress=True)
    assert batch.percents and {row[1] for row in batch.tasks}.isdisjoint(row[1] for row in batch.percents)
    assert all(sim.tasks[task_id].status == TaskStatus.RUNNING for _, task_id, _ in batch.percents)
    await recorder.call(recorder._write, batch)
    assert states(await recorder.call(recorder.store.tasks, 1)) == states(sim.tasks)
    recorder.close()
