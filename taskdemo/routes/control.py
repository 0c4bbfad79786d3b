"""`POST /start`, `/reset`, `/cancel`, `/resume` and `/retry` for the run, `POST /tasks/{task_id}/cancel` and
`/tasks/{task_id}/retry` for one of its tasks: each hands its command to the app's `Commands` (control.py holds the
rules and the answers) and turns a refusal into its HTTP answer.

Every route is `async def` on purpose: FastAPI runs a plain `def` route in a thread pool, and the run must only
ever be touched from the event loop.
"""
from __future__ import annotations

import math
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Request

from ..access import token_matches
from ..control import ControlError
from ..services import CommandsDep, SettingsDep
from ..settings import MAX_TASKS
from .models import (
    BODY_ERRORS,
    CONTROL_ERRORS,
    Message,
    Problem,
    RetryBody,
    RetryReply,
    StartBody,
    StartReply,
    TaskReply,
)

router = APIRouter()


async def control_source(request: Request, settings: SettingsDep,
                         authorization: Annotated[str | None, Header()] = None) -> str:
    """Who sends this command, as the run's log keeps it: 'token' when the server has a control token (and it was
    given), else 'api:<the client's address>'. A missing or wrong token is a 401."""
    if settings.control_token is None:
        return f'api:{request.client.host if request.client else "unknown"}'
    if authorization is None or not authorization.startswith('Bearer '):
        raise HTTPException(401, 'This server needs its control token: send "Authorization: Bearer <token>".',
                            headers={'WWW-Authenticate': 'Bearer'})
    if not token_matches(authorization.removeprefix('Bearer '), settings.control_token):
        raise HTTPException(401, 'Wrong control token.', headers={'WWW-Authenticate': 'Bearer'})
    return 'token'


Source = Annotated[str, Depends(control_source)]


@router.post('/start', response_model=StartReply, tags=['control'],
             responses={**CONTROL_ERRORS, **BODY_ERRORS,
                        409: {'model': Problem, 'description': 'a run is already active'},
                        422: {'model': Problem, 'description': 'a setting is unknown or out of range'}})
async def start(source: Source, commands: CommandsDep,
                body: Annotated[StartBody | None, Body()] = None) -> dict[str, Any]:
    """Start a run, with the settings in force or those in the body. The body's settings stay in force for later
    runs, except the seed: that is for this run only, and later runs go back to the server's own seed (`--seed`,
    usually none, so each run draws one). A bad setting is a 422 whatever the state, as the body's schema says;
    a good one while a run is active, a 409."""
    settings = body.model_dump(exclude_unset=True) if body is not None else None
    return await _answer(commands.by(source).start(settings))


@router.post('/reset', response_model=Message, tags=['control'], responses=CONTROL_ERRORS)
async def reset(source: Source, commands: CommandsDep) -> dict[str, str]:
    """Cancel any active run and put every task back to pending at 0 %."""
    return await _answer(commands.by(source).reset())


@router.post('/cancel', response_model=Message, tags=['control'],
             responses={**CONTROL_ERRORS, 409: {'model': Problem, 'description': 'no run is active'}})
async def cancel(source: Source, commands: CommandsDep) -> dict[str, str]:
    """Stop the active run; its unfinished tasks end as cancelled."""
    return await _answer(commands.by(source).cancel())


@router.post('/resume', response_model=Message, tags=['control'],
             responses={**CONTROL_ERRORS, 409: {'model': Problem, 'description': 'no interrupted run to resume'}})
async def resume(source: Source, commands: CommandsDep) -> dict[str, str]:
    """Go on with an interrupted run (one cut off by a restart or a crash) from where its tasks stopped."""
    return await _answer(commands.by(source).resume())


@router.post('/retry', response_model=RetryReply, tags=['control'],
             responses={**CONTROL_ERRORS, **BODY_ERRORS,
                        409: {'model': Problem, 'description': 'no finished run to retry from'},
                        422: {'model': Problem, 'description': 'a task asked for did not fail, or no task matches'}})
async def retry(source: Source, commands: CommandsDep,
                body: Annotated[RetryBody | None, Body()] = None) -> dict[str, Any]:
    """Run failed tasks of the finished run again, in place, as their next attempt: all of them, those with
    the given ids, or those that failed with the given error message."""
    return await _answer(commands.by(source).retry(body.tasks if body else None, body.error if body else None))


# a run has at most MAX_TASKS tasks: a larger id is refused by FastAPI's validation, before the command
TaskId = Annotated[int, Path(ge=0, lt=MAX_TASKS, description='the task\'s id, as in `individual` of /status')]


@router.post('/tasks/{task_id}/cancel', response_model=TaskReply, tags=['control'],
             responses={**CONTROL_ERRORS,
                        409: {'model': Problem, 'description': 'no run is active, or the task has already finished'},
                        422: {'model': Problem, 'description': 'the run has no task with this id'}})
async def cancel_task(source: Source, commands: CommandsDep, task_id: TaskId) -> dict[str, Any]:
    """End one running (or waiting) task of the active run as cancelled; the other tasks and the run go on."""
    return await _answer(commands.by(source).cancel_task(task_id))


@router.post('/tasks/{task_id}/retry', response_model=TaskReply, tags=['control'],
             responses={**CONTROL_ERRORS,
                        409: {'model': Problem, 'description': 'there is no run, or it was interrupted (resume it '
                                                               'first)'},
                        422: {'model': Problem, 'description': 'the run has no task with this id, or the task '
                                                               'neither failed (nor timed out) nor was cancelled'}})
async def retry_task(source: Source, commands: CommandsDep, task_id: TaskId) -> dict[str, Any]:
    """Run one failed, timed-out or cancelled task again as its next attempt, while its run goes on or after it
    has finished (the run is then running again until that task ends)."""
    return await _answer(commands.by(source).retry_task(task_id))


async def _answer(command: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """The command's reply, or its refusal as an HTTP error (with `Retry-After` in whole seconds when it says)."""
    try:
        return await command
    except ControlError as refused:
        headers = None if refused.retry_after is None else {'Retry-After': str(max(0, math.ceil(refused.retry_after)))}
        raise HTTPException(refused.status, refused.detail, headers=headers) from None
