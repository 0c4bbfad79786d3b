"""The HTTP API on a bare FastAPI app: the seed's contract, our extensions, and bad input that changes nothing."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from taskdemo import protocol
from taskdemo.api import install_api, install_error_handlers
from taskdemo.insight import eta_s
from taskdemo.settings import Settings
from taskdemo.simulator import RunState, Simulator
from taskdemo.stream import QUEUE_FRAMES

from .helpers import finish


def make_app(sim: Simulator, **settings) -> FastAPI:
    app = FastAPI()
    install_api(app, sim, Settings(**settings), stream_interval=0.02)
    install_error_handlers(app)
    return app


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(make_app(sim)), base_url='http://test') as client:
        yield client


def snapshot(sim: Simulator) -> tuple:
    return (sim.state, sim.run.id if sim.run else None, sim.settings,
            [(task.status, task.progress, task.duration) for task in sim.tasks])


async def test_post_start_without_a_body_starts_every_task_as_the_seed_does(client, sim):
    response = await client.post('/start')
    assert response.status_code == 200
    assert response.json()['message'] == '50 tasks started'
    assert sim.state == RunState.RUNNING and sim.counts.running == 50


async def test_post_start_while_running_answers_409_and_leaves_the_run_alone(client, sim):
    await client.post('/start')
    sim.step(30)
    before = snapshot(sim)
    response = await client.post('/start', json={'tasks': 3})
    assert response.status_code == 409
    assert 'already active' in response.json()['detail']
    assert snapshot(sim) == before


async def test_post_start_with_settings_uses_them_and_keeps_them_in_force(client, sim):
    response = await client.post('/start', json={'tasks': 5, 'seed': 3, 'speed': 10, 'failure_rate': 0})
    assert response.status_code == 200
    body = response.json()
    assert body['message'] == '5 tasks started' and body['seed'] == 3 and body['settings']['tasks'] == 5
    assert sim.total == 5 and sim.settings.speed == 10
    sim.step(13)
    assert sim.state == RunState.COMPLETED and sim.counts.completed == 5


async def test_post_start_takes_a_stall_rate_and_a_task_timeout_and_null_means_no_limit(client, sim):
    response = await client.post('/start', json={'tasks': 5, 'stall_rate': 0.5, 'task_timeout': 90})
    assert response.status_code == 200
    assert (response.json()['settings']['stall_rate'], response.json()['settings']['task_timeout']) == (0.5, 90)
    await client.post('/reset')
    response = await client.post('/start', json={'task_timeout': None})
    assert response.status_code == 200 and response.json()['settings']['task_timeout'] is None
    assert response.json()['settings']['stall_rate'] == 0.5, 'the settings of the body before stay in force'
    assert (await client.get('/status')).json()['settings']['task_timeout'] is None


async def test_the_schema_shows_the_stall_rate_and_the_time_limit_with_their_bounds(client):
    body = (await client.get('/openapi.json')).json()['components']['schemas']['StartBody']['properties']
    assert (body['stall_rate']['type'], body['stall_rate']['minimum'], body['stall_rate']['maximum']) == (
        'number', 0, 1)
    number, none = body['task_timeout']['anyOf']
    assert number['type'] == 'number' and number['exclusiveMinimum'] == 0 and none == {'type': 'null'}
    assert 'timed out' in body['task_timeout']['description'] and 'hangs' in body['stall_rate']['description']


BAD_BODIES: list[tuple[str, str]] = [
    ('{"tasks": 0}', 'tasks'),
    ('{"tasks": 10001}', 'tasks'),
    ('{"tasks": "5"}', 'tasks'),
    ('{"tasks": 2.5}', 'tasks'),
    ('{"tasks": true}', 'tasks'),
    ('{"tasks": 100000000000000000000000000000}', 'tasks'),
    ('{"failure_rate": 1.5}', 'failure_rate'),
    ('{"failure_rate": NaN}', 'failure_rate'),
    ('{"failure_rate": Infinity}', 'failure_rate'),
    ('{"speed": -1}', 'speed'),
    ('{"speed": 0}', 'speed'),
    ('{"min_duration": 1e400}', 'min_duration'),
    ('{"min_duration": 100, "max_duration": 10}', 'min_duration'),
    ('{"seed": -4}', 'seed'),
    ('{"bogus": 1}', 'bogus'),
    ('[]', 'body'),
    ('"fifty"', 'body'),
    ('{"tasks": 5', 'JSON'),
    ('{"tasks": {"nested": [1, 2, 3]}}', 'tasks'),
    ('{"stall_rate": 1.5}', 'stall_rate must be a number from 0 to 1, got 1.5'),
    ('{"stall_rate": null}', 'stall_rate must be a number from 0 to 1, got null'),
    ('{"stall_rate": "0.1"}', 'stall_rate'),
    ('{"task_timeout": 0}', 'task_timeout must be a number greater than 0 and at most 604,800'),
    ('{"task_timeout": -90}', 'task_timeout'),
    ('{"task_timeout": 1e9}', 'task_timeout'),
    ('{"task_timeout": Infinity}', 'task_timeout'),
    ('{"task_timeout": "90"}', 'task_timeout'),
    ('{"task_timeout": true}', 'task_timeout'),
]


@pytest.mark.parametrize(('body', 'named'), BAD_BODIES)
async def test_bad_start_settings_answer_422_naming_the_field_and_change_nothing(client, sim, body, named):
    before = snapshot(sim)
    response = await client.post('/start', content=body, headers={'Content-Type': 'application/json'})
    assert response.status_code == 422, response.text
    assert named in response.json()['detail']
    assert 'Traceback' not in response.text
    assert snapshot(sim) == before


@pytest.mark.parametrize(('method', 'path'), [('GET', '/start'), ('PUT', '/reset'), ('DELETE', '/status'),
                                              ('GET', '/cancel')])
async def test_wrong_methods_answer_405(client, sim, method, path):
    before = snapshot(sim)
    response = await client.request(method, path)
    assert response.status_code == 405
    assert snapshot(sim) == before


async def test_post_reset_cancels_the_run_and_puts_every_task_back(client, sim):
    await client.post('/start')
    sim.step(70)
    response = await client.post('/reset')
    assert response.status_code == 200 and response.json() == {'message': 'Tasks reset'}
    assert sim.state == RunState.IDLE
    assert all(task.status.value == 'pending' and task.progress == 0 for task in sim.tasks)


async def test_post_cancel_stops_the_run_and_answers_409_when_nothing_runs(client, sim):
    assert (await client.post('/cancel')).status_code == 409
    await client.post('/start')
    sim.step(40)
    response = await client.post('/cancel')
    assert response.status_code == 200 and 'cancelled' in response.json()['message']
    statuses = {entry['status'] for entry in (await client.get('/status')).json()['individual'].values()}
    assert 'cancelled' in statuses and 'in_progress' not in statuses


async def test_get_status_is_a_seed_frame_plus_the_run(client, sim):
    await client.post('/start', json={'seed': 11})
    sim.step(80)
    status = (await client.get('/status')).json()
    assert status['total'] == 50 and status['state'] == 'running' and status['seed'] == 11
    assert status['completed'] == sim.counts.completed and status['failed'] == sim.counts.failed
    assert status['running'] == sim.counts.running and status['pending'] == 0
    assert status['elapsed_s'] == 80 and status['progress'] == round(sim.percent, 1)
    assert status['eta_s'] == round(eta_s(sim), 1) and status['eta_s'] > 0
    assert status['throughput_per_min'] == round(60 * (sim.counts.completed + sim.counts.failed) / 80, 1)
    assert list(status['individual']) == [str(i) for i in range(50)]
    for key, entry in status['individual'].items():
        task = sim.tasks[int(key)]
        assert entry['status'] == task.status.value and entry['progress'] == task.progress
        assert ('error' in entry) == (task.status.value == 'failed')


@pytest.mark.parametrize('header', [None, 'Bearer wrong', 'secret', 'Bearer '])
async def test_with_a_control_token_control_needs_it_and_watching_does_not(sim, header):
    app = make_app(sim, control_token='secret')
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        headers = {} if header is None else {'Authorization': header}
        for path in ('/start', '/reset', '/cancel', '/retry', '/resume'):
            response = await client.post(path, headers=headers)
            assert response.status_code == 401 and 'token' in response.json()['detail'].lower()
        assert sim.state == RunState.IDLE
        assert (await client.get('/status')).status_code == 200
        response = await client.post('/start', headers={'Authorization': 'Bearer secret'})
        assert response.status_code == 200 and sim.active


# The WebSocket tests need a real connection: starlette's TestClient runs the app on an event loop in another
# thread. Every simulator call while the app runs goes through `client.portal.call`, onto that loop, as the
# driver's tick does in the real app; none from this thread.

def test_ws_sends_seed_shaped_frames_from_the_first_moment(sim):
    with TestClient(make_app(sim)) as client:
        client.portal.call(sim.start)
        client.portal.call(sim.step, 45)
        completed = client.portal.call(lambda: sim.counts.completed)
        with client.websocket_connect('/ws') as websocket:
            frames = [json.loads(websocket.receive_text()) for _ in range(3)]
    assert completed > 0
    for frame in frames:
        assert set(frame) == {'total', 'completed', 'failed', 'individual'}
        assert frame['total'] == 50 and frame['completed'] == completed
        assert len(frame['individual']) == 50
    failed = [entry for entry in frames[0]['individual'].values() if entry['status'] == 'failed']
    assert failed and all(entry['error'].startswith('Simulated failure') for entry in failed)


def test_ws_changes_mode_sends_a_full_frame_then_only_what_changed(make_sim):
    sim = make_sim(tasks=20, min_duration=10, max_duration=100, failure_rate=0, seed=2)
    with TestClient(make_app(sim)) as client:
        client.portal.call(sim.start)
        client.portal.call(sim.step, 5)
        with client.websocket_connect('/ws?mode=changes') as websocket:
            first = json.loads(websocket.receive_text())
            client.portal.call(sim.step, 0.2)  # only the shortest tasks (a percent every 0.1-0.2 s) pass one here
            now = client.portal.call(lambda: {str(task.id): protocol.task_entry(task) for task in sim.tasks})
            moved = {key for key, entry in first['individual'].items() if now[key] != entry}
            changed: dict[str, dict] = {}
            for _ in range(QUEUE_FRAMES + 2):  # frames built before the step carry nothing; the next one all of it
                frame = json.loads(websocket.receive_text())
                assert frame['mode'] == 'changes' and frame['completed'] == 0
                assert all(entry['status'] != 'in_progress' for entry in frame['individual'].values())  # in runs
                protocol.apply_changes(changed, frame)
                if moved and set(changed) >= moved:
                    break
    assert len(first['individual']) == 20
    assert set(changed) == moved and 0 < len(moved) < 20
    assert all(entry == now[key] for key, entry in changed.items())


def test_ws_marks_a_stalled_task_in_both_modes_and_keeps_the_seeds_shape(make_sim):
    """Six tasks that all hang (seed 5), one of them for good: a seed client still reads every frame as before."""
    sim = make_sim(tasks=6, stall_rate=1, failure_rate=0, min_duration=100, max_duration=100, seed=5)
    with TestClient(make_app(sim)) as client:
        client.portal.call(sim.start)
        client.portal.call(sim.step, 30)  # task 5 hangs for good from 22 s: flagged after 27 s
        with client.websocket_connect('/ws') as full, client.websocket_connect('/ws?mode=changes') as changes:
            frame = json.loads(full.receive_text())
            decoded = json.loads(changes.receive_text())['individual']
            client.portal.call(sim.step, 60)
            expected = client.portal.call(lambda: {str(task.id): protocol.task_entry(task) for task in sim.tasks})
            for _ in range(QUEUE_FRAMES + 2):
                protocol.apply_changes(decoded, json.loads(changes.receive_text()))
                if decoded == expected:
                    break
    assert set(frame) == {'total', 'completed', 'failed', 'individual'}
    assert frame['individual']['5'] == {'status': 'in_progress', 'progress': 22, 'stalled': True}
    assert all('stalled' not in entry for key, entry in frame['individual'].items() if key != '5')
    assert decoded == expected and decoded['5']['stalled'] is True
    assert [key for key, entry in decoded.items() if 'stalled' in entry] == ['5']


def test_ws_with_an_unknown_mode_is_refused(sim):
    from starlette.websockets import WebSocketDisconnect
    with TestClient(make_app(sim)) as client, pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect('/ws?mode=everything') as websocket:
            websocket.receive_text()
    assert refused.value.code == 1008


async def finished_with_failures(client: httpx.AsyncClient, sim: Simulator) -> dict:
    await client.post('/start', json={'tasks': 30, 'failure_rate': 0.5, 'seed': 4})
    finish(sim)
    status = (await client.get('/status')).json()
    assert status['failed'] > 0 and status['state'] == 'completed'
    return status


async def test_post_retry_runs_the_failed_tasks_again_and_status_shows_attempts(client, sim):
    status = await finished_with_failures(client, sim)
    failed = [int(key) for key, entry in status['individual'].items() if entry['status'] == 'failed']
    groups = status['error_groups']
    assert sum(group['count'] for group in groups) == len(failed) and status['attempts'] == {}
    assert sorted(i for group in groups for i in group['tasks']) == failed
    assert [group['count'] for group in groups] == sorted((group['count'] for group in groups), reverse=True)

    response = await client.post('/retry')
    assert response.status_code == 200
    assert response.json() == {'message': f'{len(failed)} tasks retried', 'run_id': 1, 'tasks': failed}
    status = (await client.get('/status')).json()
    assert status['state'] == 'running' and status['failed'] == 0
    assert status['attempts'] == {str(i): 2 for i in failed}


async def test_post_retry_by_group_or_ids_touches_only_those(client, sim):
    status = await finished_with_failures(client, sim)
    group = status['error_groups'][0]
    response = await client.post('/retry', json={'error': group['error']})
    assert response.json()['tasks'] == group['tasks']
    untouched = {key: entry for key, entry in status['individual'].items() if int(key) not in group['tasks']}
    now = (await client.get('/status')).json()['individual']
    assert {key: now[key] for key in untouched} == untouched
    finish(sim)
    failed = sim.failed_tasks()
    response = await client.post('/retry', json={'tasks': failed[:1]})
    assert response.status_code == 200 and response.json()['tasks'] == failed[:1]


@pytest.mark.parametrize(('body', 'code', 'words'), [
    ({'tasks': [0, 1, 2, 3, 4, 5]}, 422, 'did not fail'),
    ({'tasks': [99]}, 422, 'has no task 99'),
    ({'error': 'no such error'}, 422, "failed with the error 'no such error'"),
    ({'tasks': [1], 'error': 'x'}, 422, 'either "tasks" or "error"'),
    ({'tasks': ['1']}, 422, 'tasks.0'),
    ({'everything': True}, 422, 'everything'),
])
async def test_post_retry_refuses_bad_requests_and_changes_nothing(client, sim, body, code, words):
    await finished_with_failures(client, sim)
    before = snapshot(sim)
    response = await client.post('/retry', json=body)
    assert response.status_code == code and words in response.json()['detail']
    assert snapshot(sim) == before


async def test_post_retry_answers_409_without_a_finished_run(client, sim):
    response = await client.post('/retry')
    assert response.status_code == 409 and 'no finished run' in response.json()['detail']
    await client.post('/start')
    response = await client.post('/retry')
    assert response.status_code == 409 and 'already active' in response.json()['detail']
