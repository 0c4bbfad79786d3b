"""A run replayed over HTTP: `GET /runs/{id}/state?at=` answers the board as `/status` showed it at that moment (the
live run from memory, a finished one from the history), refuses a moment that is not in the run with a message that
names the value and the range, and a browser opening `/runs/{id}?at=` is sent to the board."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from taskdemo.api import install_api, install_error_handlers
from taskdemo.settings import Settings
from taskdemo.simulator import Simulator

from .helpers import finish

BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
PLAIN = {'Accept-Encoding': 'identity'}
REPLAYED = ('at', 'exact', 'note')




@pytest.fixture
async def no_history(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_api(app, sim, Settings())
    install_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        yield client


async def test_the_live_run_at_a_moment_gone_by_is_the_board_status_showed_then(recorded, sim):
    client, _ = recorded
    await client.post('/start', json={'seed': 4, 'failure_rate': 0.3, 'stall_rate': 0.3, 'concurrency': 20})
    seen = []
    for dt in (0.0, 7.3, 20.0, 31.5, 12.25):
        sim.step(dt)
        seen.append((await client.get('/status')).json())
    sim.step(40)
    assert sim.active, 'the run is still going: these moments are replayed from memory'
    for status in seen:
        state = await client.get('/runs/1/state', params={'at': repr(status['elapsed_s'])})
        assert state.status_code == 200, state.text
        body = state.json()
        assert body.pop('at') == status['elapsed_s'] and body.pop('exact') is True and body.pop('note') == ''
        assert body.pop('version') is None and body.pop('streams') is None and body.pop('viewers') is None
        assert body == without_live_keys(status)
    assert any(status['failed'] for status in seen) and any(status['stalled'] for status in seen)
    assert (await client.get('/runs/1/state', params={'at': 0})).json()['running'] == 20


async def test_a_finished_run_from_the_history_is_replayed_as_it_was_shown(recorded, sim):
    client, recorder = recorded
    await client.post('/start', json={'seed': 5, 'failure_rate': 0.4, 'task_timeout': 80, 'stall_rate': 0.2})
    seen = []
    for dt in (3.0, 25.0, 40.0):
        sim.step(dt)
        seen.append((await client.get('/status')).json())
    assert seen[-1]['state'] == 'running'
    finish(sim)
    ended = (await client.get('/status')).json()
    failed = sim.failed_tasks()
    assert failed
    sim.retry(failed[:3])  # retried once finished: its clock stands still, so the retry shares the end's moment
    seen.append((await client.get('/status')).json())
    assert seen[-1]['elapsed_s'] == ended['elapsed_s']
    finish(sim)
    seen.append((await client.get('/status')).json())
    await client.post('/start', json={'seed': 6})
    await recorder.flush()
    for status in seen:
        body = (await client.get('/runs/1/state', params={'at': repr(status['elapsed_s'])}, headers=PLAIN)).json()
        assert (body['exact'], body['note'], body['version'], body['streams']) == (True, '', None, None)
        assert without_live_keys({k: v for k, v in body.items() if k not in REPLAYED}) == without_live_keys(status)
    assert seen[-1]['state'] == 'completed' and seen[-1]['eta_s'] == 0
    assert ended['attempts'] == {} and seen[3]['attempts'] == {str(i): 2 for i in failed[:3]}


async def test_the_answer_is_gzipped_for_a_client_that_takes_it(recorded, sim):
    client, _ = recorded
    await client.post('/start')
    sim.step(30)
    plain = await client.get('/runs/1/state', params={'at': 10}, headers=PLAIN)
    packed = await client.get('/runs/1/state', params={'at': 10}, headers={'Accept-Encoding': 'gzip'})
    assert 'content-encoding' not in plain.headers and packed.headers['content-encoding'] == 'gzip'
    assert int(packed.headers['content-length']) < len(plain.content) / 3
    assert packed.json() == plain.json() and plain.json()['elapsed_s'] == plain.json()['at'] == 10


async def test_an_unknown_run_is_404_even_with_a_moment_that_could_not_be_in_it(recorded, sim):
    client, _ = recorded
    await client.post('/start')
    for at in ('5', '-1', 'soon'):
        response = await client.get('/runs/99/state', params={'at': at})
        assert response.status_code == 404
        assert response.json()['detail'] == 'No run 99 in the history (it keeps the last 5).'


async def test_without_a_data_folder_only_the_live_run_can_be_replayed(no_history, sim):
    await no_history.post('/start')
    sim.step(10)
    assert (await no_history.get('/runs/1/state', params={'at': 4})).status_code == 200
    response = await no_history.get('/runs/2/state', params={'at': 4})
    assert response.status_code == 404
    assert response.json()['detail'] == ('No run 2: this server runs without a data folder, so only the current run '
                                         '(run 1) can be replayed.')


@pytest.mark.parametrize(('at', 'shown'), [
    ('-1', '-1'), ('nan', 'nan'), ('NaN', 'NaN'), ('inf', 'inf'), ('-inf', '-inf'), ('1e400', '1e400'),
    ('30.001', '30.001'), ('120', '120'), ('soon', 'soon'), ('', 'an empty value'), ('0x10', '0x10'),
    ("{'a': 1}", 'a value of 8 characters that is not a number')])
async def test_a_moment_not_in_the_run_is_422_naming_the_value_and_the_range(no_history, sim, at, shown):
    await no_history.post('/start')
    sim.step(30)
    response = await no_history.get('/runs/1/state', params={'at': at})
    assert response.status_code == 422
    assert response.json()['detail'] == f'at must be from 0 to 30 (run 1 has been running for 30 s so far), got {shown}'


async def test_a_finished_run_says_how_long_it_lasted_and_takes_its_end(no_history, sim):
    await no_history.post('/start', json={'tasks': 3, 'min_duration': 1, 'max_duration': 2})
    sim.step(0.7)
    sim.step(0.7)
    sim.step(0.7)
    assert not sim.active and sim.run.elapsed_s == pytest.approx(2.1)
    assert sim.run.elapsed_s != 2.1, 'three steps of 0.7 do not add up to 2.1 exactly'
    response = await no_history.get('/runs/1/state', params={'at': 3})
    assert response.status_code == 422
    assert response.json()['detail'] == 'at must be from 0 to 2.1 (run 1 lasted 2.1 s), got 3'
    last = await no_history.get('/runs/1/state', params={'at': '2.1'})  # the end as the message shows it
    assert last.status_code == 200 and last.json()['at'] == sim.run.elapsed_s
    assert last.json()['state'] == 'completed'


async def test_at_is_required(no_history, sim):
    await no_history.post('/start')
    response = await no_history.get('/runs/1/state')
    assert response.status_code == 422 and response.json()['detail'].startswith('query.at: ')


async def test_a_browser_opening_a_run_is_sent_to_the_board_replaying_it(recorded, sim):
    client, _ = recorded
    response = await client.get('/runs/12', params={'at': '95.5'}, headers={'Accept': BROWSER})
    assert response.status_code == 303
    assert response.headers['location'] == '../?run=12&at=95.5'
    assert str(httpx.URL('http://test/prefix/runs/12').join(response.headers['location'])) == \
        'http://test/prefix/?run=12&at=95.5', 'relative: behind a path prefix it stays under it'
    without = await client.get('/runs/12', headers={'Accept': BROWSER})
    assert without.status_code == 303 and without.headers['location'] == '../?run=12'
    assert (await client.get('/runs/12', params={'at': '60'}, headers={'Accept': BROWSER})).headers[
        'location'] == '../?run=12&at=60'
    bad = await client.get('/runs/12', params={'at': 'later'}, headers={'Accept': BROWSER})
    assert bad.status_code == 422 and bad.json()['detail'] == 'at must be a number of seconds from 0, got later'


async def test_a_program_asking_for_a_run_still_gets_its_json(recorded, sim):
    client, recorder = recorded
    await client.post('/start', json={'seed': 4})
    finish(sim)
    await recorder.flush()
    for headers in ({}, {'Accept': 'application/json'}, {'Accept': '*/*'}):
        response = await client.get('/runs/1', params={'at': '12.5'}, headers=headers)
        assert response.status_code == 200 and response.json()['seed'] == 4 and len(response.json()['tasks']) == 50
    for at in ('-3', 'nan', 'x'):
        response = await client.get('/runs/1', params={'at': at})
        assert response.status_code == 422 and response.json()['detail'].startswith('at must be a number')
    assert (await client.get('/runs/7')).status_code == 404


async def test_the_schema_documents_the_moment_route_and_the_redirect(recorded):
    client, _ = recorded
    schema = (await client.get('/openapi.json')).json()
    operation = schema['paths']['/runs/{run_id}/state']['get']
    assert operation['tags'] == ['history'] and 'moment' in operation['description']
    assert operation['responses']['200']['content']['application/json']['schema'] == {
        '$ref': '#/components/schemas/StateReply'}
    for code in ('404', '422'):
        assert operation['responses'][code]['content']['application/json']['schema'] == {
            '$ref': '#/components/schemas/Problem'}
    (at,) = [parameter for parameter in operation['parameters'] if parameter['name'] == 'at']
    assert at['in'] == 'query' and at['required'] is True
    assert (at['schema']['type'], at['schema']['minimum']) == ('number', 0) and 'elapsed_s' in at['description']
    reply = schema['components']['schemas']['StateReply']
    assert {'at', 'exact', 'note', 'individual', 'elapsed_s', 'error_groups'} <= set(reply['required'])
    assert reply['properties']['version']['type'] == 'null' and reply['properties']['streams']['type'] == 'null'
    assert reply['properties']['viewers']['type'] == 'null'
    assert (reply['properties']['at']['type'], reply['properties']['exact']['type']) == ('number', 'boolean')
    one_run = schema['paths']['/runs/{run_id}']['get']
    assert 'text/html' in one_run['responses']['303']['description']
    (optional,) = [parameter for parameter in one_run['parameters'] if parameter['name'] == 'at']
    assert optional['required'] is False and optional['schema']['type'] == 'number'


def without_live_keys(status: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in status.items() if key not in {'version', 'streams', 'viewers'}}
