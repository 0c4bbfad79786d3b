"""History over HTTP: the list, one run, and its exports, read from the store; bad ids are 4xx."""
from __future__ import annotations

import csv
import io

import httpx
import pytest
from fastapi import FastAPI

from taskdemo.api import install_api, install_error_handlers
from taskdemo.history import SqliteHistory
from taskdemo.routes.history import EXPORT_COLUMNS
from taskdemo.settings import RunSettings, Settings
from taskdemo.simulator import RunEvent, Task, TaskStatus
from taskdemo.store import RunRow

from .helpers import finish


async def test_runs_lists_past_runs_newest_first_with_counts_and_success_rate(recorded, sim):
    client, recorder = recorded
    for _ in range(2):
        await client.post('/start')
        finish(sim)
        await recorder.flush()
    runs = (await client.get('/runs')).json()
    assert [run['id'] for run in runs] == [2, 1]
    latest = runs[0]
    assert latest['state'] == 'completed' and latest['total'] == 50
    assert latest['completed'] == sim.counts.completed and latest['failed'] == sim.counts.failed
    assert latest['success_rate'] == round(100 * sim.counts.completed / 50, 1)
    assert latest['settings']['tasks'] == 50 and latest['finished_s'] == sim.run.finished_s


async def test_one_run_and_its_exports_have_a_row_per_task(recorded, sim):
    client, recorder = recorded
    await client.post('/start', json={'seed': 4})
    finish(sim)
    await recorder.flush()
    run = (await client.get('/runs/1')).json()
    assert len(run['tasks']) == 50 and run['seed'] == 4
    exported = await client.get('/runs/1/export.json')
    assert exported.headers['content-disposition'] == 'attachment; filename="taskdemo-run-1.json"'
    assert exported.json() == run
    table = await client.get('/runs/1/export.csv')
    assert table.headers['content-type'].startswith('text/csv')
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert tuple(rows[0]) == EXPORT_COLUMNS and len(rows) == 50
    for row, task in zip(rows, sim.tasks, strict=True):
        assert row['id'] == str(task.id) and row['status'] == task.status.value
        assert row['progress'] == str(task.progress)
        assert row['error'] == (task.error or '')
        assert float(row['duration_s']) == pytest.approx(task.finished_s - task.started_s, abs=1e-3)
        assert row['started_at'].endswith('+00:00') and row['finished_at'] > row['started_at']
    assert any(row['status'] == TaskStatus.FAILED.value and row['error'] for row in rows)


async def test_a_run_with_hangs_and_time_limits_is_kept_with_them(recorded, sim):
    client, recorder = recorded
    started = await client.post('/start', json={'seed': 4, 'stall_rate': 0.6, 'task_timeout': 70})
    assert started.status_code == 200, started.text
    finish(sim)
    await recorder.flush()
    run = (await client.get('/runs/1')).json()
    assert run['settings']['stall_rate'] == 0.6 and run['settings']['task_timeout'] == 70
    timed_out = [task['id'] for task in run['tasks'] if task['error'] == 'timed out after 70 s']
    assert timed_out and timed_out == [t.id for t in sim.tasks if t.error == 'timed out after 70 s']
    kept = await SqliteHistory(recorder).tasks(1)
    assert [(t.stall_at, t.stall_for, t.stalled_from, t.stalled_until, t.stalled) for t in kept] == \
        [(t.stall_at, t.stall_for, t.stalled_from, t.stalled_until, t.stalled) for t in sim.tasks]
    assert any(t.stalled_until is not None for t in kept) and any(t.stall_for is None and t.stall_at for t in kept)


@pytest.mark.parametrize(('path', 'status'), [('/runs/99', 404), ('/runs/0', 422), ('/runs/abc', 422),
                                              ('/runs/99/export.csv', 404), ('/runs?limit=0', 422),
                                              ('/runs/99999999999999999999999', 422)])
async def test_unknown_or_bad_run_ids_are_4xx_with_a_reason(recorded, path, status):
    client, _ = recorded
    response = await client.get(path)
    assert response.status_code == status and response.json()['detail']


async def test_without_a_data_folder_history_is_empty_and_says_why(sim):
    app = FastAPI()
    install_api(app, sim, Settings())  # no history
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        assert (await client.get('/runs')).json() == []
        response = await client.get('/runs/1')
        assert response.status_code == 404 and 'data folder' in response.json()['detail']


async def test_resume_is_409_unless_a_run_was_interrupted(recorded, sim):
    client, _ = recorded
    assert (await client.post('/resume')).status_code == 409
    await client.post('/start')
    sim.step(40)
    sim.interrupt()
    response = await client.post('/resume')
    assert response.status_code == 200 and sim.active


class OneRun:
    """A history kept elsewhere (another store, another process): the routes need only the `History` interface."""

    keep_runs = 1

    def __init__(self, row: RunRow, tasks: list[Task], events: list[RunEvent]) -> None:
        self.row, self.kept_tasks, self.kept_events = row, tasks, events

    async def runs(self, limit: int | None = None) -> list[RunRow]:
        return [self.row][:limit]

    async def run(self, run_id: int) -> RunRow | None:
        return self.row if run_id == self.row.id else None

    async def tasks(self, run_id: int) -> list[Task]:
        return self.kept_tasks if run_id == self.row.id else []

    async def events(self, run_id: int) -> list[RunEvent]:
        return self.kept_events if run_id == self.row.id else []


async def test_the_routes_read_any_history_through_its_interface(sim):
    sim.start(RunSettings(tasks=2, seed=1, failure_rate=0))
    finish(sim)
    row = RunRow(id=7, started_at=sim.run.started_at, settings=sim.run.settings.as_dict(), seed=1, state='completed',
                 elapsed_s=sim.run.elapsed_s, finished_s=sim.run.finished_s, total=2, completed=2, failed=0,
                 cancelled=0)
    app = FastAPI()
    install_api(app, sim, Settings(), history=OneRun(row, sim.tasks, sim.events))
    install_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        assert [run['id'] for run in (await client.get('/runs')).json()] == [7]
        whole = (await client.get('/runs/7')).json()
        assert [task['status'] for task in whole['tasks']] == ['completed'] * 2
        assert [entry['text'] for entry in whole['activity']] == [
            'Run 7 started: 2 tasks, 0 % failing, 30-120 s, ×1, seed 1', 'Run 7 completed']
        missing = await client.get('/runs/6')
        assert missing.status_code == 404 and 'keeps the last 1' in missing.json()['detail']
