"""HTTP and WebSocket routes: the seed's contract (POST /start, POST /reset, WS /ws) and our extensions.

Every route reads and drives the same simulator as the board. Errors are short JSON `detail` texts that name
what was wrong; no traceback ever reaches a client.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Header, HTTPException, Query, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model
from starlette.requests import Request
from starlette.websockets import WebSocketDisconnect

from . import protocol
from .access import token_matches
from .settings import MAX_TASKS, RUN_RULES, RunSettings, Settings, SettingsError
from .simulator import RetryError, RunActiveError, RunState, Simulator
from .stream import Broadcaster

STREAM_INTERVAL_S = 0.5
SEND_TIMEOUT_S = 10.0


def _start_body() -> type[BaseModel]:
    """The `POST /start` body, made from the rules in settings.py. Pydantic only documents the fields (OpenAPI
    gets each one's type and bounds); the values are checked by RunSettings itself, so a bad one gets the message
    the command line and the settings panel give, and an unknown field the same "is not a setting"."""
    fields: dict[str, Any] = {
        name: (Annotated[Any, WithJsonSchema(rule.json_schema())], Field(None, description=rule.help))
        for name, rule in RUN_RULES.items()}
    config = ConfigDict(extra='allow', json_schema_extra={'additionalProperties': False})
    return create_model('StartBody', __config__=config,
                        __doc__='Settings for the new run. Every field is optional: a missing one keeps the value '
                                'in force.', **fields)


StartBody = _start_body()


class RetryBody(BaseModel):
    """Which failed tasks to run again: by id, or every task that failed with one error message. Without a body
    (or with neither field) every failed task goes again."""

    model_config = ConfigDict(extra='forbid', strict=True)

    tasks: list[Annotated[int, Field(ge=0, le=MAX_TASKS)]] | None = Field(
        None, max_length=MAX_TASKS, description='ids of failed tasks')
    error: str | None = Field(None, max_length=1000, description='the error message of a failure group')


class Message(BaseModel):
    message: str


class RetryReply(Message):
    run_id: int
    tasks: list[int]


class StartReply(Message):
    run_id: int
    seed: int
    settings: dict[str, Any]


class Problem(BaseModel):
    detail: str


class TaskEntry(BaseModel):
    status: Literal['pending', 'in_progress', 'completed', 'failed', 'cancelled', 'interrupted']
    progress: int
    error: str | None = None


class StatusReply(BaseModel):
    total: int
    completed: int
    failed: int
    individual: dict[str, TaskEntry]
    state: Literal['idle', 'running', 'completed', 'cancelled', 'interrupted']
    run_id: int | None
    progress: float = Field(description='finished tasks over all tasks, 0-100')
    running: int
    pending: int
    cancelled: int
    interrupted: int
    started_at: float | None = Field(description='wall clock, seconds since the epoch')
    elapsed_s: float | None
    seed: int | None
    eta_s: float | None = Field(description='real seconds until the last task ends; null while estimating')
    throughput_per_min: float | None = Field(description='tasks finished per minute so far')
    settings: dict[str, Any]
    attempts: dict[str, int] = Field(description='attempt number of every task beyond its first; missing = 1')
    error_groups: list[dict[str, Any]] = Field(
        description='failed tasks by error message, largest first: `{"error", "count", "tasks"}`')
    streams: int = Field(description='`/ws` clients listening now')


CONTROL_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {'model': Problem, 'description': 'a control token is set and this request did not carry it'},
}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {'model': Problem, 'description': 'the body could not be read (not UTF-8)'},
}


def install_api(app: FastAPI, sim: Simulator, settings: Settings, *,
                stream_interval: float = STREAM_INTERVAL_S) -> None:
    """Add the routes to `app` (the NiceGUI app, or a bare FastAPI app in tests).

    Every route is `async def` on purpose: FastAPI runs a plain `def` route in a thread pool, and the simulator
    (with every page subscribed to it) must only ever be touched from the event loop.
    """
    broadcaster = Broadcaster(sim, interval=stream_interval)
    statuses = protocol.StatusCache(sim, broadcaster.frames)  # 10,000 tasks: built once per change, not per request

    async def require_control(authorization: Annotated[str | None, Header()] = None) -> None:
        if settings.control_token is None:
            return
        if authorization is None or not authorization.startswith('Bearer '):
            raise HTTPException(401, 'This server needs its control token: send "Authorization: Bearer <token>".',
                                headers={'WWW-Authenticate': 'Bearer'})
        if not token_matches(authorization.removeprefix('Bearer '), settings.control_token):
            raise HTTPException(401, 'Wrong control token.', headers={'WWW-Authenticate': 'Bearer'})

    control = [Depends(require_control)]

    @app.post('/start', response_model=StartReply, dependencies=control, tags=['control'],
              responses={**CONTROL_ERRORS, **BODY_ERRORS,
                         409: {'model': Problem, 'description': 'a run is already active'},
                         422: {'model': Problem, 'description': 'a setting is unknown or out of range'}})
    async def start(body: Annotated[StartBody | None, Body()] = None) -> dict[str, Any]:
        """Start a run, with the settings in force or those in the body. The body's settings stay in force for later
        runs, except the seed: that is for this run only, and later runs go back to the server's own seed (`--seed`,
        usually none, so each run draws one). A bad setting is a 422 whatever the state, as the body's schema says;
        a good one while a run is active, a 409."""
        new_settings = None
        if body is not None:
            try:
                new_settings = RunSettings.from_mapping(body.model_dump(exclude_unset=True), base=sim.settings)
            except SettingsError as error:
                raise HTTPException(422, str(error)) from None
        if sim.active:
            raise HTTPException(409, _active_detail(sim))
        try:
            run = sim.start(new_settings)
        except RunActiveError:
            raise HTTPException(409, _active_detail(sim)) from None
        return {'message': f'{run.settings.tasks} tasks started', 'run_id': run.id, 'seed': run.seed,
                'settings': run.settings.as_dict()}

    @app.post('/reset', response_model=Message, dependencies=control, tags=['control'], responses=CONTROL_ERRORS)
    async def reset() -> dict[str, str]:
        """Cancel any active run and put every task back to pending at 0 %."""
        sim.reset()
        return {'message': 'Tasks reset'}

    @app.post('/cancel', response_model=Message, dependencies=control, tags=['control'],
              responses={**CONTROL_ERRORS, 409: {'model': Problem, 'description': 'no run is active'}})
    async def cancel() -> dict[str, str]:
        """Stop the active run; its unfinished tasks end as cancelled."""
        run = sim.run
        if not sim.cancel():
            raise HTTPException(409, 'No run is active, so there is nothing to cancel.')
        return {'message': f'Run {run.id} cancelled: {sim.counts.cancelled} tasks cancelled'}

    @app.post('/resume', response_model=Message, dependencies=control, tags=['control'],
              responses={**CONTROL_ERRORS, 409: {'model': Problem, 'description': 'no interrupted run to resume'}})
    async def resume() -> dict[str, str]:
        """Go on with an interrupted run (one cut off by a restart or a crash) from where its tasks stopped."""
        if not sim.resume():
            raise HTTPException(409, f'There is no interrupted run to resume (the run is {sim.state.value}).')
        return {'message': f'Run {sim.run.id} resumed: {sim.counts.running} tasks running'}

    @app.post('/retry', response_model=RetryReply, dependencies=control, tags=['control'],
              responses={**CONTROL_ERRORS, **BODY_ERRORS,
                         409: {'model': Problem, 'description': 'no finished run to retry from'},
                         422: {'model': Problem, 'description': 'a task asked for did not fail, or no task matches'}})
    async def retry(body: Annotated[RetryBody | None, Body()] = None) -> dict[str, Any]:
        """Run failed tasks of the finished run again, in place, as their next attempt: all of them, those with
        the given ids, or those that failed with the given error message."""
        if body is not None and body.tasks is not None and body.error is not None:
            raise HTTPException(422, 'Give either "tasks" or "error", not both.')
        if sim.active:
            raise HTTPException(409, _active_detail(sim))
        if sim.run is None or sim.state == RunState.INTERRUPTED:
            raise HTTPException(409, 'There is no finished run to retry.' if sim.run is None else
                                f'Run {sim.run.id} was interrupted: POST /resume first.')
        try:
            ids = sim.retry(body.tasks if body else None, error=body.error if body else None)
        except RetryError as error:
            raise HTTPException(422, f'{str(error)[0].upper()}{str(error)[1:]}.') from None
        return {'message': f'{len(ids)} tasks retried', 'run_id': sim.run.id, 'tasks': ids}

    @app.get('/status', response_model=None, tags=['watch'],
             responses={200: {'model': StatusReply, 'description': 'the whole state'}})
    async def status(accept_encoding: Annotated[str, Header(include_in_schema=False)] = '') -> Response:
        """The whole state: a `/ws` frame plus the state of the run, and how many `/ws` clients are listening."""
        streams = len(broadcaster.subscribers)
        if 'gzip' in accept_encoding.lower():  # compressed here, from a cache: not again per request downstream
            return Response(statuses.gzip(streams=streams), media_type='application/json',
                            headers={'Content-Encoding': 'gzip', 'Vary': 'Accept-Encoding'})
        return Response(statuses.text(streams=streams), media_type='application/json')

    @app.websocket('/ws')
    async def stream(websocket: WebSocket, mode: Annotated[str, Query()] = 'full') -> None:
        """The seed's stream: a full frame at once, then one every 0.5 s. `?mode=changes` sends, after the first
        full frame, only the tasks changed since the frame before (plus the counters)."""
        if mode not in {'full', 'changes'}:
            await websocket.close(code=1008, reason='mode must be "full" or "changes"')
            return
        await websocket.accept()
        subscriber, first = broadcaster.subscribe(mode)  # type: ignore[arg-type]
        closed = asyncio.ensure_future(_wait_closed(websocket))
        dropped = asyncio.ensure_future(subscriber.dropped.wait())
        try:
            text = first
            while True:
                # a client that stops reading blocks only its own send, until its queue overflows: then it is
                # dropped (no more frames, its queue freed) while every other client keeps its cadence
                sending = asyncio.ensure_future(_send(websocket, text))
                await asyncio.wait({sending, dropped}, return_when=asyncio.FIRST_COMPLETED)
                if not sending.done():
                    sending.cancel()
                    return
                sending.result()
                frame = asyncio.ensure_future(subscriber.queue.get())
                await asyncio.wait({closed, dropped, frame}, return_when=asyncio.FIRST_COMPLETED)
                if not frame.done():
                    frame.cancel()
                    return
                text = frame.result()
        except (WebSocketDisconnect, RuntimeError, TimeoutError, OSError):
            return  # the client went away or stopped reading: drop it
        finally:
            broadcaster.unsubscribe(subscriber)
            closed.cancel()
            dropped.cancel()


def install_error_handlers(app: FastAPI) -> None:
    """Validation errors as one readable `detail` line that names the field."""

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors():
            if item.get('type') == 'json_invalid':  # its `loc` is a character offset, not a field
                reason = (item.get('ctx') or {}).get('error')
                problems.append('body: not valid JSON' + (f' ({reason})' if reason else ''))
                continue
            where = '.'.join(str(part) for part in item.get('loc', ()) if part != 'body') or 'body'
            problems.append(f'{where}: {item.get("msg", "invalid")}')
        return JSONResponse({'detail': '; '.join(problems) or 'invalid request'}, status_code=422)


def _active_detail(sim: Simulator) -> str:
    run = sim.run
    assert run is not None
    return (f'Run {run.id} is already active ({sim.counts.finished} of {sim.total} tasks finished); '
            'POST /cancel or /reset first.')


async def _send(websocket: WebSocket, text: str) -> None:
    await asyncio.wait_for(websocket.send_text(text), timeout=SEND_TIMEOUT_S)


async def _wait_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message['type'] == 'websocket.disconnect':
                return
