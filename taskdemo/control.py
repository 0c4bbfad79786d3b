"""The commands that change a run (start, reset, cancel, resume, retry) or one of its tasks (cancel_task,
retry_task), with the one set of rules for them.

`execute` applies a command to the simulator that advances the run, and answers as the HTTP routes do (the same
reply bodies, the same 409 and 422 details). The routes and the board reach it through a `Commands` object:
`LocalCommands` calls it in this process; another implementation may carry the command (its arguments are plain
JSON) to the process that advances the run and bring the answer back. Each command comes from somewhere
(`Commands.by(source)`: a board tab, the API), which the run's event log keeps (activity.py says it in words).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .settings import RunSettings, SettingsError, described
from .simulator import RetryError, RunActiveError, RunState, Simulator, TaskStateError

OPS = ('start', 'reset', 'cancel', 'resume', 'retry', 'cancel_task', 'retry_task')


class ControlError(Exception):
    """A command was refused: `status` and `detail` are the HTTP answer's; `retry_after` (seconds), when given,
    says the command may work if sent again that much later (the route sends it as `Retry-After`)."""

    def __init__(self, status: int, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


def execute(sim: Simulator, op: str, args: Mapping[str, Any], source: str = '') -> dict[str, Any]:
    """Run one command from `source` on `sim` and return the reply body; raise ControlError (409, 422) when it is
    refused, with nothing changed.

    `args` by command: start -> `{'settings': dict | None}` (only the settings given; the rest stay as they are),
    retry -> `{'tasks': list[int] | None, 'error': str | None}`, cancel_task and retry_task -> `{'task': int}`,
    the others -> `{}`.
    """
    with sim.acting(source):
        return _execute(sim, op, args)


def _execute(sim: Simulator, op: str, args: Mapping[str, Any]) -> dict[str, Any]:
    if op == 'start':
        return _start(sim, args.get('settings'))
    if op == 'reset':
        sim.reset()
        return {'message': 'Tasks reset'}
    if op == 'cancel':
        return _cancel(sim)
    if op == 'resume':
        return _resume(sim)
    if op == 'retry':
        return _retry(sim, args.get('tasks'), args.get('error'))
    if op in {'cancel_task', 'retry_task'}:
        return _task_command(sim, op, args.get('task'))
    raise ControlError(422, f'Unknown command {op!r} (known: {", ".join(OPS)}).')


class Commands:
    """The board's and the routes' way to change the run. Each method answers the reply body of its route, or
    raises ControlError. A subclass says how a command is carried out (`send`); `by(source)` gives the same
    commands as coming from `source` ('tab:7f3', 'api:127.0.0.1', 'token')."""

    source = ''

    async def send(self, op: str, args: dict[str, Any], source: str) -> dict[str, Any]:
        raise NotImplementedError

    def by(self, source: str) -> Commands:
        return _From(self, source)

    async def start(self, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self.send('start', {'settings': dict(settings) if settings is not None else None}, self.source)

    async def reset(self) -> dict[str, Any]:
        return await self.send('reset', {}, self.source)

    async def cancel(self) -> dict[str, Any]:
        return await self.send('cancel', {}, self.source)

    async def resume(self) -> dict[str, Any]:
        return await self.send('resume', {}, self.source)

    async def retry(self, tasks: list[int] | None = None, error: str | None = None) -> dict[str, Any]:
        return await self.send('retry', {'tasks': tasks, 'error': error}, self.source)

    async def cancel_task(self, task_id: int) -> dict[str, Any]:
        return await self.send('cancel_task', {'task': task_id}, self.source)

    async def retry_task(self, task_id: int) -> dict[str, Any]:
        return await self.send('retry_task', {'task': task_id}, self.source)


class _From(Commands):
    def __init__(self, commands: Commands, source: str) -> None:
        self._commands, self.source = commands, source

    async def send(self, op: str, args: dict[str, Any], source: str) -> dict[str, Any]:
        return await self._commands.send(op, args, source)


class LocalCommands(Commands):
    """Commands for the simulator in this process. Each one is done before its coroutine's first step ends (it
    never waits), so that a page or a route sees its effect at once."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def send(self, op: str, args: dict[str, Any], source: str) -> dict[str, Any]:
        return execute(self.sim, op, args, source)


def _start(sim: Simulator, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """A bad setting is a 422 whatever the state (as the body's schema says); a good one while a run is active, a
    409."""
    settings = None
    if given is not None:
        try:
            settings = RunSettings.from_mapping(dict(given), base=sim.settings)
        except SettingsError as error:
            raise ControlError(422, str(error)) from None
    if sim.active:
        raise ControlError(409, _active_detail(sim))
    try:
        run = sim.start(settings)
    except RunActiveError:
        raise ControlError(409, _active_detail(sim)) from None
    return {'message': f'{run.settings.tasks} tasks started', 'run_id': run.id, 'seed': run.seed,
            'settings': run.settings.as_dict()}


def _cancel(sim: Simulator) -> dict[str, Any]:
    run = sim.run
    if not sim.cancel():
        raise ControlError(409, 'No run is active, so there is nothing to cancel.')
    assert run is not None
    return {'message': f'Run {run.id} cancelled: {sim.counts.cancelled} tasks cancelled'}


def _resume(sim: Simulator) -> dict[str, Any]:
    if not sim.resume():
        raise ControlError(409, f'There is no interrupted run to resume (the run is {sim.state.value}).')
    assert sim.run is not None
    return {'message': f'Run {sim.run.id} resumed: {sim.counts.running} tasks running'}


def _retry(sim: Simulator, tasks: list[int] | None, error: str | None) -> dict[str, Any]:
    if tasks is not None and error is not None:
        raise ControlError(422, 'Give either "tasks" or "error", not both.')
    if sim.active:
        raise ControlError(409, _active_detail(sim))
    if sim.run is None or sim.state == RunState.INTERRUPTED:
        raise ControlError(409, 'There is no finished run to retry.' if sim.run is None else
                           f'Run {sim.run.id} was interrupted: POST /resume first.')
    try:
        ids = sim.retry(tasks, error=error)
    except RetryError as problem:
        raise ControlError(422, _sentence(problem)) from None
    return {'message': f'{len(ids)} tasks retried', 'run_id': sim.run.id, 'tasks': ids}


def _task_command(sim: Simulator, op: str, task_id: Any) -> dict[str, Any]:
    """One task: an id the run does not have is a 422 (as in /retry's body), a task or run in the wrong state a
    409 (cancel: the task has finished or no run is active; retry: the run was interrupted or there is none)."""
    if isinstance(task_id, bool) or not isinstance(task_id, int):
        raise ControlError(422, f'A task id is a whole number, not {described(task_id)}.')
    try:
        task = sim.cancel_task(task_id) if op == 'cancel_task' else sim.retry_task(task_id)
    except RetryError as problem:
        raise ControlError(422, _sentence(problem)) from None
    except TaskStateError as problem:
        raise ControlError(409, _sentence(problem)) from None
    assert sim.run is not None
    done = 'cancelled' if op == 'cancel_task' else f'retried (attempt {task.attempt})'
    return {'message': f'Task {task.id} {done}', 'run_id': sim.run.id, 'task': task.id,
            'status': task.status.value, 'attempt': task.attempt}


def _sentence(problem: Exception) -> str:
    text = str(problem)
    return f'{text[0].upper()}{text[1:]}.'


def _active_detail(sim: Simulator) -> str:
    run = sim.run
    assert run is not None
    return (f'Run {run.id} is already active ({sim.counts.finished} of {sim.total} tasks finished); '
            'POST /cancel or /reset first.')
