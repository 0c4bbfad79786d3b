"""Past runs over HTTP: `GET /runs`, `GET /runs/{id}` and exports as JSON (with the run's activity) and CSV (one
row per task), read from the app's `History` (none without a data folder); and any run replayed at any moment,
`GET /runs/{id}/state?at=` (the live run too, from memory)."""
from __future__ import annotations

import csv
import gzip
import io
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, HTTPException, Path, Query
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import WithJsonSchema

from .. import protocol
from ..activity import run_entries
from ..history import History
from ..model import RunState, Task
from ..replay import Replay
from ..replays import NoRecording
from ..services import HistoryDep, ReplaysDep
from ..store import RunRow
from .models import Problem, StateReply

EXPORT_COLUMNS = ('id', 'status', 'progress', 'duration_s', 'started_at', 'finished_at', 'error', 'attempt',
                  'earlier_errors')
RunId = Annotated[int, Path(ge=1, le=2**62, description='the run number')]
BAD_VALUE = {422: {'model': Problem, 'description': 'a parameter is not a number or out of range'}}
NO_RUN = {404: {'model': Problem, 'description': 'no such run in the history'}, **BAD_VALUE}
NO_RECORDING = {404: {'model': Problem, 'description': 'neither the live run nor a run in the history'},
                422: {'model': Problem, 'description': '`at` is not a number from 0 to the run\'s end, or the run '
                                                       'number is not a number'}}
AT_SCHEMA = WithJsonSchema({'type': 'number', 'minimum': 0})  # read as text: a bad value gets our own message
At = Annotated[str, AT_SCHEMA, Query(
    description='seconds since the run started (the unit of `/status`\'s `elapsed_s`), from 0 to the run\'s end '
                '(for the live run: its elapsed time so far)')]
OptionalAt = Annotated[str | None, AT_SCHEMA, Query(
    description='a moment of the run, in seconds since it started: a browser is sent to the board replaying the run '
                'then; the JSON answer does not depend on it')]
QUOTABLE = re.compile(r'[\w.+-]{1,40}')  # a bad value quoted back in a message (no markup, no quotes)

router = APIRouter()


@router.get('/runs', tags=['history'], responses=BAD_VALUE)
async def runs(history: HistoryDep, limit: Annotated[int, Query(ge=1, le=100_000)] = 100) -> list[dict[str, Any]]:
    """Past runs, newest first: when, settings, counts, success rate, duration."""
    if history is None:
        return []
    return [row.as_dict() for row in await history.runs(limit)]


@router.get('/runs/{run_id}', tags=['history'], response_model=dict[str, Any], responses={
    303: {'description': 'a browser (`Accept` naming `text/html`) is sent to the board replaying the run: '
                         '`Location: ../?run={run_id}&at={at}`'}, **NO_RUN})
async def run(history: HistoryDep, run_id: RunId, at: OptionalAt = None,
              accept: Annotated[str, Header(include_in_schema=False)] = '') -> dict[str, Any] | RedirectResponse:
    """One run with every task. Opened in a browser (`/runs/12?at=95.5`, a link to a moment), the board replaying
    that run at that moment instead."""
    moment = None if at is None else _moment_asked(at)
    if 'text/html' in accept.lower():
        # relative, so that it works behind a path prefix too; whether the run exists, the board says
        query = {'run': run_id} if moment is None else {'run': run_id, 'at': _query_number(moment)}
        return RedirectResponse(f'../?{urlencode(query)}', status_code=303)
    row, tasks = await _find(history, run_id)
    return await _whole(history, row, tasks)


@router.get('/runs/{run_id}/state', tags=['history'], response_model=None,
            responses={200: {'model': StateReply, 'description': 'the board at that moment'}, **NO_RECORDING})
async def state(replays: ReplaysDep, run_id: RunId, at: At,
                accept_encoding: Annotated[str, Header(include_in_schema=False)] = '') -> Response:
    """The board of a run at one moment, replayed from what the run stored: the `/status` shape (every task's state
    and percent, the counters, the failure groups, the stalled tasks, the ETA as it stood then), with `version` and
    `streams` null (they belong to the live server, not to a moment), plus `at`, `exact` and `note`. Any run in the
    history, or the live one (up to now)."""
    moment = _moment_asked(at, strict=False)
    try:  # the run first: the range `at` must be in is the run's
        replay = await replays.replay(run_id, up_to=moment)
    except NoRecording as error:
        raise HTTPException(404, str(error)) from None
    if moment is None or not 0 <= moment <= _bound(replay.end):
        raise HTTPException(422, f'at must be from 0 to {_seconds(replay.end)} ({_lasted(replay)}), '
                                 f'got {_quoted(at)}')
    shown = replay.at(moment)
    body = protocol.dumps({**protocol.status(shown), 'streams': None, 'viewers': None, 'version': None, 'at': shown.at,
                           'exact': shown.exact, 'note': shown.note}).encode()
    if 'gzip' in accept_encoding.lower():  # 450 KB at 10,000 tasks: about 2 ms to 55 KB at this level
        return Response(gzip.compress(body, compresslevel=protocol.GZIP_LEVEL, mtime=0),
                        media_type='application/json', headers={'Content-Encoding': 'gzip', 'Vary': 'Accept-Encoding'})
    return Response(body, media_type='application/json', headers={'Vary': 'Accept-Encoding'})


@router.get('/runs/{run_id}/export.json', tags=['history'], responses=NO_RUN)
async def export_json(history: HistoryDep, run_id: RunId) -> JSONResponse:
    """One run with every task and its activity, as a file to download."""
    row, tasks = await _find(history, run_id)
    return JSONResponse(await _whole(history, row, tasks), headers=_attachment(f'taskdemo-run-{run_id}.json'))


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


async def _whole(history: History, row: RunRow, tasks: list[Task]) -> dict[str, Any]:
    """A run with every task, and its activity (who did what to it, as `GET /activity` gives it), oldest first."""
    activity = run_entries(row.id, await history.events(row.id), row.settings, row.seed)
    return {**row.as_dict(), 'tasks': [export_row(row, task) for task in tasks],
            'activity': [entry.as_dict() for entry in activity]}


async def _find(history: History | None, run_id: int) -> tuple[RunRow, list[Task]]:
    if history is None:
        raise HTTPException(404, 'No history: this server runs without a data folder.')
    row = await history.run(run_id)
    if row is None:
        raise HTTPException(404, f'No run {run_id} in the history (it keeps the last {history.keep_runs}).')
    return row, await history.tasks(run_id)


def _moment_asked(text: str, *, strict: bool = True) -> float | None:
    """`at` as a number of seconds: None (or, `strict`, a 422 that says why) unless a finite number from 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and value >= 0:
        return value
    if strict:
        raise HTTPException(422, f'at must be a number of seconds from 0, got {_quoted(text)}')
    return None


def _bound(end: float) -> float:
    """The highest `at` taken: the end, or the end as the message shows it (rounded to a millisecond) if that is
    later, so a value copied from the message is taken. A moment past the end is shown as the end."""
    return max(end, float(_seconds(end)))


def _seconds(value: float) -> str:
    return f'{value:.3f}'.rstrip('0').rstrip('.')


def _lasted(replay: Replay) -> str:
    run = replay.run
    if replay.recording.live and run.state == RunState.RUNNING:
        return f'run {run.id} has been running for {_seconds(replay.end)} s so far'
    return f'run {run.id} lasted {_seconds(replay.end)} s'


def _quoted(text: str) -> str:
    """The value as given, when it reads like a number or a word; anything else is described, not echoed."""
    text = text.strip()
    if QUOTABLE.fullmatch(text):
        return text
    return 'an empty value' if not text else f'a value of {len(text):,} characters that is not a number'


def _query_number(value: float) -> str:
    return str(int(value)) if value.is_integer() and value < 1e15 else repr(value)


def _timestamp(run_started_at: float, offset_s: float | None) -> str | None:
    if offset_s is None:
        return None
    return datetime.fromtimestamp(run_started_at + offset_s, tz=UTC).isoformat(timespec='milliseconds')


def _attachment(name: str) -> dict[str, str]:
    return {'Content-Disposition': f'attachment; filename="{name}"'}
