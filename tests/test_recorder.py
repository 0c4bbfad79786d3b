"""The recorder: one ordered writer. Every write (a run's first row, a reset, the batches) goes through one thread in
the order the simulator made the changes, and that writer survives any error."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from taskdemo.model import MAX_EARLIER
from taskdemo.recorder import Recorder
from taskdemo.simulator import RunState, Simulator, TaskStatus
from taskdemo.store import Store

from .helpers import finish


def restarted(tmp_path: Path):
    """What a restart finds: the run it shows (None for an idle board) and the newest run number."""
    store = Store(tmp_path)
    try:
        return store.last_run(), store.newest_run_id()
    finally:
        store.close()


async def test_a_reset_and_a_start_within_one_batch_come_back_as_the_new_run(sim: Simulator, tmp_path: Path):
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    sim.step(20)
    sim.reset()
    sim.start()  # no flush in between: the reset's marker and the new run's row are written in this order
    sim.step(5)
    await recorder.flush()
    recorder.close()
    (run, tasks), newest = restarted(tmp_path)
    assert run.id == 2 == newest and run.state == RunState.INTERRUPTED
    again = Simulator(sim.settings)
    again.restore(run, tasks)
    assert again.resume(), 'the run that was going can be resumed'


async def test_a_reset_right_after_a_start_comes_back_idle(sim: Simulator, tmp_path: Path):
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    sim.reset()
    await recorder.flush()
    recorder.close()
    assert restarted(tmp_path) == (None, 1)


async def test_a_failing_prune_does_not_stop_the_writer(make_sim, tmp_path: Path, caplog, monkeypatch):
    sim = make_sim(tasks=5, seed=1)
    store = Store(tmp_path, keep_runs=2)
    recorder = Recorder(sim, store)
    real_prune = store.prune

    def locked() -> int:
        raise sqlite3.OperationalError('database is locked')

    monkeypatch.setattr(store, 'prune', locked)
    for _ in range(3):
        sim.start()
        finish(sim)
        await recorder.flush()
    await recorder.written()
    assert 'could not drop old runs' in caplog.text
    assert [row.id for row in await recorder.call(store.runs)] == [3, 2, 1], 'nothing dropped, nothing lost'
    monkeypatch.setattr(store, 'prune', real_prune)
    sim.start()
    sim.step(10)
    sim.reset()  # run 4 ends cancelled: pruned to runs 3 and 4
    sim.start()
    await recorder.flush()
    assert [row.id for row in await recorder.call(store.runs)] == [5, 4, 3], 'the writer went on, and prunes again'
    recorder.close()
    (run, _), newest = restarted(tmp_path)
    assert run.id == 5 == newest


async def test_an_error_in_a_run_s_last_batch_is_logged_not_lost_with_its_future(sim, tmp_path, caplog, monkeypatch):
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    await recorder.flush()

    def broken(batch) -> None:
        raise ValueError('a bug in the writer')

    monkeypatch.setattr(recorder.store, 'write', broken)
    finish(sim)  # the run's last rows are submitted the moment it ends, on their own
    await recorder.written()
    assert 'a write to the store failed' in caplog.text and 'a bug in the writer' in caplog.text
    caplog.clear()
    recorder.close()


async def test_nothing_writes_sqlite_on_the_event_loop(sim: Simulator, tmp_path: Path, monkeypatch):
    store = Store(tmp_path)
    threads: set[str] = set()
    for name in ('write', 'prune'):
        method = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *args, method=method: (
            threads.add(threading.current_thread().name), method(*args))[1])
    recorder = Recorder(sim, store)
    sim.start()
    sim.step(30)
    sim.reset()
    sim.start()
    await recorder.flush()
    sim.cancel()
    await recorder.flush()
    finish(sim)
    recorder.flush_now()
    recorder.close()
    assert threads and all(name.startswith('taskdemo-store') for name in threads), threads


@pytest.mark.parametrize('retries', [MAX_EARLIER + 2])
async def test_the_live_state_keeps_the_last_attempts_and_the_store_keeps_them_all(make_sim, tmp_path, retries):
    sim = make_sim(tasks=3, failure_rate=1.0, seed=2)  # every attempt fails
    recorder = Recorder(sim, Store(tmp_path))
    sim.start()
    finish(sim)
    for _ in range(retries):
        sim.retry()
        finish(sim)
        await recorder.flush()
    task = sim.tasks[0]
    assert task.attempt == retries + 1 and task.status == TaskStatus.FAILED
    assert [a.number for a in task.earlier] == list(range(retries + 1 - MAX_EARLIER, retries + 1))
    stored = await recorder.call(recorder.store.tasks, 1)
    assert [a.number for a in stored[0].earlier] == list(range(1, retries + 1)), 'every attempt on disk'
    assert all(a.error for a in stored[0].earlier)
    recorder.close()
    (run, tasks), _ = restarted(tmp_path)
    assert [a.number for a in tasks[0].earlier] == [a.number for a in task.earlier], 'a restart keeps the last ones'
