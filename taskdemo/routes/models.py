"""The bodies the routes take and answer, as OpenAPI documents them, and the error answers they share."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from ..settings import MAX_TASKS, RUN_RULES


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


TaskState = Literal['pending', 'in_progress', 'completed', 'failed', 'cancelled', 'interrupted']


class Message(BaseModel):
    message: str


class RetryReply(Message):
    run_id: int
    tasks: list[int]


class TaskReply(Message):
    """What `POST /tasks/{task_id}/cancel` and `/retry` did to the one task."""

    run_id: int
    task: int = Field(description='the task\'s id')
    status: TaskState = Field(description='its state now: cancelled; or, retried, waiting for a slot (pending) or '
                                          'running again (in_progress)')
    attempt: int = Field(description='its attempt number: 1 for its first run, one more with every retry')


class StartReply(Message):
    run_id: int
    seed: int
    settings: dict[str, Any]


class Problem(BaseModel):
    detail: str


class TaskEntry(BaseModel):
    status: TaskState
    progress: int
    error: str | None = None
    stalled: Literal[True] | None = Field(
        None, description='present, and true, only while the task runs but has not moved for longer than its stall '
                          'limit (max(5 s, 3 of its usual intervals between steps), simulated)')


class StalledTask(BaseModel):
    id: int
    stalled_s: float = Field(description='simulated seconds since it stopped moving')


class ViewerCounts(BaseModel):
    pages: int = Field(description='board tabs open now (their socket connected)')
    streams: int = Field(description='`/ws` clients listening now')
    total: int = Field(description='pages plus streams: the "4 watching" of the board\'s header')


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
    stalled: int = Field(description='running tasks that are stalled now')
    stalled_tasks: list[StalledTask] = Field(description='the stalled tasks, the one stalled longest first')
    streams: int = Field(description='`/ws` clients listening now')
    viewers: ViewerCounts = Field(description='who is watching now: board tabs open (connected) and `/ws` clients')
    version: int = Field(description='the state\'s version, one more with every change: in a cluster, processes at '
                                     'the same version show the same state')


class ActivityEntry(BaseModel):
    run_id: int
    seq: int = Field(description='its place in the run\'s log of events')
    kind: Literal['start', 'cancel', 'completed', 'retry', 'cancel_task', 'retry_task', 'interrupted', 'resume',
                  'reset', 'moved']
    wall: float = Field(description='when, in seconds since the epoch')
    at_s: float = Field(description='when, in seconds since the run started (its `elapsed_s` then)')
    tasks: list[int] = Field(description='the tasks it named (retry, cancel_task, retry_task)')
    source: str = Field(description='who did it: "tab:7f3" (a board tab; "tab:7f3@host:port" in a cluster), '
                                    '"api:127.0.0.1", "token" (the API with the control token), "process:host:port" '
                                    '(a cluster process that took the run over); empty for the run itself')
    by: str = Field(description='`source` in words: "a board tab (tab 7f3)", "API from 127.0.0.1"')
    text: str = Field(description='what happened, in words: "Run 4 cancelled"')


class ActivityReply(BaseModel):
    entries: list[ActivityEntry] = Field(description='newest first')


class StateReply(StatusReply):
    """`GET /runs/{run_id}/state?at=`: the board of a run at one moment, in the `/status` shape, plus which moment
    and whether the store could say it exactly."""

    streams: None = Field(description='always null: a moment replayed has no `/ws` clients of its own (how many '
                                      'listen now is in `/status`)')
    viewers: None = Field(description='always null: who watches now is in `/status`')
    version: None = Field(description='always null: a moment replayed is not a state of the live simulator')
    at: float = Field(description='the moment shown, in seconds since the run started (as `elapsed_s`)')
    exact: bool = Field(description='false only where the store could not say exactly (the app stopped without a '
                                    'clean shutdown before this moment, or a run stored before taskdemo kept events)')
    note: str = Field(description='why the moment is not exact, and by how much it may be off; empty when exact')


CONTROL_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {'model': Problem, 'description': 'a control token is set and this request did not carry it'},
}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {'model': Problem, 'description': 'the body could not be read (not UTF-8)'},
}
