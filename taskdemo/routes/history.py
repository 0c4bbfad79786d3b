"""Past runs over HTTP: `GET /runs`, `GET /runs/{id}` and exports as JSON and CSV (one row per task), read from
the app's `History` (none without a data folder)."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse, Response

from ..history import History
from ..model import Task
from ..services import HistoryDep
from ..store import RunRow
from .models import Problem

EXPORT_COLUMNS = ('id', 'status', 'progress', 'duration_s', 'started_at', 'finished_at', 'error', 'attempt',
                  'earlier_errors')
RunId = Annotated[int, Path(ge=1, le=2**62, description='the run number')]
BAD_VALUE = {422: {'model': Problem, 'description': 'a parameter is not a number or out of range'}}
NO_RUN = {404: {'model': Problem, 'description': 'no such run in the history'}, **BAD_VALUE}

router = APIRouter()


@router.get('/runs', tags=['history'], responses=BAD_VALUE)
async def runs(history: HistoryDep, limit: Annotated[int, Query(ge=1, le=100_000)] = 100) -> list[dict[str, Any]]:
    """Past runs, newest first: when, settings, counts, success rate, duration."""
    if history is None:
        return []
    return [row.as_dict() for row in await history.runs(limit)]


@router.get('/runs/{run_id}', tags=['history'], responses=NO_RUN)
async def run(history: HistoryDep, run_id: RunId) -> dict[str, Any]:
    """One run with every task."""
    row, tasks = await _find(history, run_id)
    return {**row.as_dict(), 'tasks': [export_row(row, task) for task in tasks]}


@router.get('/runs/{run_id}/export.json', tags=['history'], responses=NO_RUN)
async def export_json(history: HistoryDep, run_id: RunId) -> JSONResponse:
    """One run with every task, as a file to download."""
    row, tasks = await _find(history, run_id)
    body = {**row.as_dict(), 'tasks': [export_row(row, task) for task in tasks]}
    return JSONResponse(body, headers=_attachment(f'taskdemo-run-{run_id}.json'))


@router.get('/runs/{run_id}/export.csv', tags=['history'], response_class=Response,
            responses={200: {'content': {'text/csv': {}}, 'description': 'one row per task'}, **NO_RUN})
async def export_csv(history: HistoryDep, run_id: RunId) -> Response:
    """Every task of a run as CSV: id, status, progress, duration, started and finished times, error, attempt
    and the errors of its earlier attempts."""
    row, tasks = await _find(history, run_id)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=EXPORT_COLUMNS, lineterminator='\n')
    writer.writeheader()
    writer.writerows(export_row(row, task) for task in tasks)
    return Response(text.getvalue(), media_type='text/csv; charset=utf-8',
                    headers=_attachment(f'taskdemo-run-{run_id}.csv'))


def export_row(run: RunRow, task: Task) -> dict[str, Any]:
    duration = None if task.started_s is None or task.finished_s is None else round(task.finished_s - task.started_s, 3)
    return {
        'id': task.id,
        'status': task.status.value,
        'progress': task.progress,
        'duration_s': duration,
        'started_at': _timestamp(run.started_at, task.started_s),
        'finished_at': _timestamp(run.started_at, task.finished_s),
        'error': task.error,
        'attempt': task.attempt,
        'earlier_errors': ' | '.join(attempt.error or 'failed' for attempt in task.earlier),
    }


async def _find(history: History | None, run_id: int) -> tuple[RunRow, list[Task]]:
    if history is None:
        raise HTTPException(404, 'No history: this server runs without a data folder.')
    row = await history.run(run_id)
    if row is None:
        raise HTTPException(404, f'No run {run_id} in the history (it keeps the last {history.keep_runs}).')
    return row, await history.tasks(run_id)


def _timestamp(run_started_at: float, offset_s: float | None) -> str | None:
    if offset_s is None:
        return None
    return datetime.fromtimestamp(run_started_at + offset_s, tz=UTC).isoformat(timespec='milliseconds')


def _attachment(name: str) -> dict[str, str]:
    return {'Content-Disposition': f'attachment; filename="{name}"'}
