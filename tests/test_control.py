"""The commands and their one set of rules: `execute` answers what the routes answer, for any caller; the routes
serve whatever `Commands` and `RunView` the app's services hold, and pass a refusal's `Retry-After` on."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from taskdemo.api import install_api, install_error_handlers
from taskdemo.control import OPS, Commands, ControlError, LocalCommands, execute
from taskdemo.services import get_commands, get_services, local_services
from taskdemo.settings import Settings
from taskdemo.simulator import RunState, Simulator

from .helpers import finish


def test_start_answers_the_run_and_its_settings_and_a_second_start_is_409(sim: Simulator):
    reply = execute(sim, 'start', {'settings': {'tasks': 5, 'seed': 3}})
    assert reply == {'message': '5 tasks started', 'run_id': 1, 'seed': 3, 'settings': sim.run.settings.as_dict()}
    with pytest.raises(ControlError) as refused:
        execute(sim, 'start', {'settings': None})
    assert refused.value.status == 409 and 'Run 1 is already active (0 of 5 tasks finished)' in refused.value.detail
    assert refused.value.retry_after is None


def test_a_bad_setting_is_422_even_while_a_run_is_active_and_changes_nothing(sim: Simulator):
    execute(sim, 'start', {'settings': None})
    for settings in ({'tasks': 0}, {'colour': 'red'}):
        with pytest.raises(ControlError) as refused:
            execute(sim, 'start', {'settings': settings})
        assert refused.value.status == 422
    assert sim.run.id == 1 and sim.total == 50


def test_cancel_resume_and_retry_say_why_they_cannot(sim: Simulator):
    for op, args, status, words in [('cancel', {}, 409, 'nothing to cancel'),
                                    ('resume', {}, 409, 'the run is idle'),
                                    ('retry', {'tasks': None, 'error': None}, 409, 'no finished run'),
                                    ('retry', {'tasks': [1], 'error': 'x'}, 422, 'not both')]:
        with pytest.raises(ControlError) as refused:
            execute(sim, op, args)
        assert refused.value.status == status and words in refused.value.detail, op
    assert sim.state == RunState.IDLE and sim.version == 0


def test_every_command_goes_with_arguments_that_survive_json(sim: Simulator):
    """What a second implementation sends between processes: the arguments and the replies are plain JSON."""
    def sent(op: str, args: Mapping[str, Any]) -> dict[str, Any]:
        reply = execute(sim, op, json.loads(json.dumps(args)))
        assert json.loads(json.dumps(reply)) == reply
        return reply

    sent('start', {'settings': {'tasks': 20, 'failure_rate': 0.5, 'seed': 4}})
    finish(sim)
    failed = sim.failed_tasks()
    assert sent('retry', {'tasks': failed[:2], 'error': None})['tasks'] == failed[:2]
    assert sent('retry_task', {'task': failed[2]}) == {'message': f'Task {failed[2]} retried (attempt 2)',
                                                       'run_id': 1, 'task': failed[2], 'status': 'in_progress',
                                                       'attempt': 2}
    assert sent('cancel_task', {'task': failed[2]})['status'] == 'cancelled'
    assert sent('cancel', {})['message'] == f'Run 1 cancelled: {sim.counts.cancelled} tasks cancelled'
    assert sent('reset', {}) == {'message': 'Tasks reset'}
    with pytest.raises(ControlError) as refused:
        sent('launch', {})
    assert refused.value.status == 422 and all(op in refused.value.detail for op in OPS)


@pytest.mark.parametrize(('op', 'task', 'status', 'detail'), [
    ('cancel_task', 50, 422, 'There is no task 50 (ids go from 0 to 49).'),
    ('cancel_task', 1, 409, 'No run is active, so task 1 cannot be cancelled.'),
    ('retry_task', 1, 409, 'There is no run to retry a task of.'),
    ('retry_task', '1', 422, "A task id is a whole number, not '1'."),
    ('cancel_task', True, 422, 'A task id is a whole number, not true.'),
    ('cancel_task', {'a': 1}, 422, 'A task id is a whole number, not an object.'),
])
def test_one_task_commands_say_why_they_cannot_and_change_nothing(sim: Simulator, op, task, status, detail):
    with pytest.raises(ControlError) as refused:
        execute(sim, op, {'task': task})
    assert (refused.value.status, refused.value.detail) == (status, detail)
    assert sim.state == RunState.IDLE and sim.version == 0


async def test_local_commands_take_effect_before_their_first_await_returns(sim: Simulator):
    commands = LocalCommands(sim)
    assert (await commands.start({'tasks': 3}))['run_id'] == 1 and sim.total == 3
    assert (await commands.cancel())['message'].startswith('Run 1 cancelled')
    with pytest.raises(ControlError):
        await commands.resume()


class Paused(Commands):
    """Commands while no process can take them, as a cluster answers during a takeover."""

    def __init__(self, retry_after: float | None) -> None:
        self.retry_after = retry_after

    async def send(self, op: str, args: dict[str, Any], source: str) -> dict[str, Any]:
        raise ControlError(503, 'No process is advancing the run right now.', retry_after=self.retry_after)


@pytest.mark.parametrize(('retry_after', 'header'), [(1.2, '2'), (1, '1'), (None, None)])
async def test_a_refusal_with_retry_after_answers_with_the_header_in_whole_seconds(sim, retry_after, header):
    app = FastAPI()
    install_api(app, sim, Settings())
    install_error_handlers(app)
    app.dependency_overrides[get_commands] = lambda: Paused(retry_after)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        response = await client.post('/reset')
    assert response.status_code == 503
    assert response.json() == {'detail': 'No process is advancing the run right now.'}
    assert response.headers.get('Retry-After') == header


async def test_the_routes_serve_the_services_installed_last_and_each_route_once(make_sim):
    """As on NiceGUI's one app, which tests build many times in one process; and a test may swap the services."""
    first, second = make_sim(tasks=3), make_sim(tasks=4)
    app = FastAPI()
    install_api(app, first, Settings())
    routes = len(app.routes)
    install_api(app, second, Settings())
    assert len(app.routes) == routes
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        assert (await client.get('/status')).json()['total'] == 4
        app.dependency_overrides[get_services] = lambda: local_services(first, Settings())
        assert (await client.get('/status')).json()['total'] == 3
