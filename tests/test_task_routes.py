"""`POST /tasks/{task_id}/cancel` and `POST /tasks/{task_id}/retry`: one task, with the run-level routes' token,
Origin and 409/422 rules, and never a change to any other task."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from taskdemo.api import install_api, install_error_handlers
from taskdemo.security import install_security
from taskdemo.settings import Settings
from taskdemo.simulator import RunState, Simulator, TaskStatus

from .helpers import finish

ROUTES = ('/tasks/{}/cancel', '/tasks/{}/retry')


def make_app(sim: Simulator, **settings) -> FastAPI:
    app = FastAPI()
    install_api(app, sim, Settings(**settings))
    install_error_handlers(app)
    install_security(app, allowed_origins=('http://localhost:3000',))
    return app


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(make_app(sim), raise_app_exceptions=False)  # a crash must show as a 500
    async with httpx.AsyncClient(transport=transport, base_url='http://test') as client:
        yield client


def tasks_of(sim: Simulator) -> list[tuple]:
    return [(task.status, task.progress, task.error, task.attempt, task.duration, task.started_s, task.finished_s)
            for task in sim.tasks]


def others_of(sim: Simulator, task_id: int) -> list[tuple]:
    return [entry for i, entry in enumerate(tasks_of(sim)) if i != task_id]


def snapshot(sim: Simulator) -> tuple:
    return sim.version, sim.state, sim.run.id if sim.run else None, tasks_of(sim)


async def test_cancel_ends_one_running_task_and_leaves_every_other_task_untouched(client, sim):
    await client.post('/start', json={'failure_rate': 0})
    sim.step(20)
    others = others_of(sim, 7)
    response = await client.post('/tasks/7/cancel')
    assert response.status_code == 200, response.text
    assert response.json() == {'message': 'Task 7 cancelled', 'run_id': 1, 'task': 7, 'status': 'cancelled',
                               'attempt': 1}
    assert others_of(sim, 7) == others
    status = (await client.get('/status')).json()
    assert status['individual']['7']['status'] == 'cancelled' and status['state'] == 'running'
    assert status['cancelled'] == 1 and status['running'] == 49
    finish(sim)
    assert sim.state == RunState.COMPLETED and sim.counts.completed == 49 and sim.counts.cancelled == 1


async def test_cancelling_a_waiting_task_frees_no_slot_and_cancelling_a_running_one_starts_the_next(make_sim):
    sim = make_sim(tasks=6, concurrency=2, failure_rate=0, seed=3)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(make_app(sim)), base_url='http://test') as client:
        await client.post('/start')
        sim.step(5)
        assert [task.status for task in sim.tasks[:3]] == [TaskStatus.RUNNING, TaskStatus.RUNNING,
                                                          TaskStatus.PENDING]
        others = others_of(sim, 4)
        assert (await client.post('/tasks/4/cancel')).json()['status'] == 'cancelled'
        assert others_of(sim, 4) == others, 'a waiting task cancelled: nothing else moves'
        before = tasks_of(sim)
        assert (await client.post('/tasks/0/cancel')).status_code == 200
        after = tasks_of(sim)
        changed = [i for i in range(6) if before[i] != after[i]]
        assert changed == [0, 2], 'the freed slot goes to the next waiting task, and to no other'
        assert sim.tasks[2].status == TaskStatus.RUNNING and sim.tasks[5].status == TaskStatus.PENDING


async def test_retry_while_the_run_goes_on_runs_the_task_again_as_its_next_attempt(client, sim):
    await client.post('/start', json={'failure_rate': 0})
    sim.step(10)
    await client.post('/tasks/3/cancel')
    sim.step(10)
    others = others_of(sim, 3)
    response = await client.post('/tasks/3/retry')
    assert response.status_code == 200, response.text
    assert response.json() == {'message': 'Task 3 retried (attempt 2)', 'run_id': 1, 'task': 3,
                               'status': 'in_progress', 'attempt': 2}
    assert others_of(sim, 3) == others
    status = (await client.get('/status')).json()
    assert status['individual']['3'] == {'status': 'in_progress', 'progress': 0} and status['attempts'] == {'3': 2}
    finish(sim)
    assert sim.tasks[3].status == TaskStatus.COMPLETED and sim.counts.completed == 50


async def test_retry_after_the_run_has_ended_starts_it_again_for_that_one_task(client, sim):
    await client.post('/start', json={'tasks': 20, 'failure_rate': 0.5, 'seed': 4})
    finish(sim)
    assert sim.state == RunState.COMPLETED
    failed = sim.failed_tasks()
    others = others_of(sim, failed[0])
    response = await client.post(f'/tasks/{failed[0]}/retry')
    assert response.status_code == 200 and response.json()['attempt'] == 2
    assert sim.state == RunState.RUNNING and others_of(sim, failed[0]) == others
    assert (await client.get('/status')).json()['failed'] == len(failed) - 1
    finish(sim)
    assert sim.state == RunState.COMPLETED and sim.tasks[failed[0]].status.finished


async def test_a_timed_out_task_is_retried_like_any_failure(client, sim):
    await client.post('/start', json={'tasks': 10, 'failure_rate': 0, 'min_duration': 50, 'max_duration': 150,
                                      'task_timeout': 100, 'seed': 5})
    finish(sim)
    timed_out = [task.id for task in sim.tasks if task.error == 'timed out after 100 s']
    assert timed_out and all(sim.tasks[i].duration > 100 for i in timed_out)
    response = await client.post(f'/tasks/{timed_out[0]}/retry')
    assert response.status_code == 200 and response.json()['status'] == 'in_progress'


@pytest.mark.parametrize('route', ROUTES)
async def test_without_a_run_both_answer_409_and_change_nothing(client, sim, route):
    before = snapshot(sim)
    response = await client.post(route.format(1))
    assert response.status_code == 409
    assert response.json()['detail'] in {'No run is active, so task 1 cannot be cancelled.',
                                         'There is no run to retry a task of.'}
    assert snapshot(sim) == before


async def test_cancel_of_a_finished_task_and_of_a_finished_run_is_409(client, sim):
    await client.post('/start', json={'tasks': 5, 'failure_rate': 0, 'speed': 100})
    sim.step(0.5)
    await client.post('/tasks/0/cancel')
    before = snapshot(sim)
    response = await client.post('/tasks/0/cancel')
    assert response.status_code == 409
    assert response.json()['detail'] == ('Task 0 has already been cancelled; only a running or waiting task can be '
                                         'cancelled.')
    assert snapshot(sim) == before
    finish(sim)
    assert (await client.post('/tasks/1/cancel')).status_code == 409


async def test_retry_of_an_interrupted_run_is_409_until_it_is_resumed(client, sim):
    await client.post('/start', json={'tasks': 5})
    sim.step(1)
    await client.post('/tasks/2/cancel')
    sim.interrupt()
    before = snapshot(sim)
    response = await client.post('/tasks/2/retry')
    assert response.status_code == 409 and response.json()['detail'] == 'Run 1 was interrupted; resume it first.'
    assert snapshot(sim) == before
    await client.post('/resume')
    assert (await client.post('/tasks/2/retry')).status_code == 200


@pytest.mark.parametrize(('path', 'words'), [
    ('/tasks/50/cancel', 'There is no task 50 (ids go from 0 to 49).'),
    ('/tasks/9999/retry', 'There is no task 9999 (ids go from 0 to 49).'),
    ('/tasks/4/retry', 'Only a failed or cancelled task can be retried; task 4 is running.'),
    ('/tasks/abc/cancel', 'task_id: Input should be a valid integer'),
    ('/tasks/1.5/retry', 'task_id: Input should be a valid integer'),
    ('/tasks/1e3/cancel', 'task_id: Input should be a valid integer'),
    ('/tasks/-1/cancel', 'task_id: Input should be greater than or equal to 0'),
    ('/tasks/10000/retry', 'task_id: Input should be less than 10000'),
    ('/tasks/99999999999999999999999999999/cancel', 'task_id: Input should be less than 10000'),
    (f'/tasks/{"9" * 5000}/retry', 'task_id: Unable to parse input string as an integer'),
])
async def test_an_id_the_run_does_not_have_or_that_is_no_id_is_422_with_a_readable_detail(client, sim, path, words):
    await client.post('/start')
    sim.step(1)
    before = snapshot(sim)
    response = await client.post(path)
    assert response.status_code == 422, response.text
    assert words in response.json()['detail'] and 'Traceback' not in response.text
    assert snapshot(sim) == before


@pytest.mark.parametrize('header', [None, 'Bearer wrong', 'secret'])
async def test_with_a_control_token_both_need_it(sim, header):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(make_app(sim, control_token='secret')),
                                 base_url='http://test') as client:
        await client.post('/start', headers={'Authorization': 'Bearer secret'})
        sim.step(1)
        before = snapshot(sim)
        headers = {} if header is None else {'Authorization': header}
        for route in ROUTES:
            response = await client.post(route.format(1), headers=headers)
            assert response.status_code == 401 and 'token' in response.json()['detail'].lower()
            assert response.headers['WWW-Authenticate'] == 'Bearer'
        assert snapshot(sim) == before
        response = await client.post('/tasks/1/cancel', headers={'Authorization': 'Bearer secret'})
        assert response.status_code == 200 and sim.tasks[1].status == TaskStatus.CANCELLED


SETUPS: dict[str, Callable[[Simulator], object]] = {
    '/tasks/1/cancel': lambda sim: (sim.start(), sim.step(1)),
    '/tasks/1/retry': lambda sim: (sim.start(), sim.step(1), sim.cancel_task(1)),
    '/cancel': lambda sim: (sim.start(), sim.step(1)),
}


@pytest.mark.parametrize('path', SETUPS)
@pytest.mark.parametrize('headers', [{'Origin': 'http://evil.test'}, {'Referer': 'http://evil.test/page'},
                                     {'Origin': 'null'}])
async def test_a_cross_site_post_is_refused_as_cancel_is_and_changes_nothing(client, sim, path, headers):
    SETUPS[path](sim)
    before = snapshot(sim)
    response = await client.post(path, headers=headers)
    assert response.status_code == 403
    assert response.json()['detail'].startswith('Cross-site request refused')
    assert snapshot(sim) == before
    # the board's own page, and an allowed --cors-origin, may
    own = await client.post(path, headers={'Origin': 'http://test'})
    assert own.status_code == 200 and snapshot(sim) != before


async def test_the_schema_documents_both_routes_with_their_answers(client):
    schema = (await client.get('/openapi.json')).json()
    for route in ROUTES:
        operation = schema['paths'][route.format('{task_id}')]['post']
        assert operation['tags'] == ['control'] and operation['description']
        assert {'200', '401', '403', '409', '422'} <= set(operation['responses'])
        assert operation['responses']['200']['content']['application/json']['schema'] == {
            '$ref': '#/components/schemas/TaskReply'}
        for code in ('401', '409', '422'):
            assert operation['responses'][code]['content']['application/json']['schema'] == {
                '$ref': '#/components/schemas/Problem'}
        (task_id,) = [parameter for parameter in operation['parameters'] if parameter['in'] == 'path']
        assert task_id['schema']['type'] == 'integer' and task_id['schema']['minimum'] == 0
    reply = schema['components']['schemas']['TaskReply']
    assert set(reply['required']) == {'message', 'run_id', 'task', 'status', 'attempt'}
