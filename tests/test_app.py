"""The whole app in NiceGUI's simulated browser: board, API and stream on one simulator, as `main.py` wires it."""
from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from nicegui import Client, core, ui
from nicegui.testing import User
from nicegui.testing.general import nicegui_reset_globals, prepare_simulation

from taskdemo.app import build
from taskdemo.settings import Settings
from taskdemo.simulator import RunState, Simulator
from taskdemo.ui.states import CODES
from taskdemo.ui.summary import format_duration

from .helpers import finish
from .test_grid_wire import decode


@asynccontextmanager
async def whole_app(sim: Simulator, settings: Settings) -> AsyncIterator[User]:
    """Like nicegui.testing.user_simulation, with our routes registered as `taskdemo.app.run` does."""
    with nicegui_reset_globals():
        os.environ['NICEGUI_USER_SIMULATION'] = 'true'
        try:
            prepare_simulation()
            _, root = build(settings, sim=sim, drive=False)
            ui.run(root, storage_secret='simulated secret')
            async with core.app.router.lifespan_context(core.app):
                async with httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://test') as c:
                    yield User(c)
        finally:
            os.environ.pop('NICEGUI_USER_SIMULATION', None)


@pytest.fixture
async def app_user(sim: Simulator) -> AsyncIterator[User]:
    async with whole_app(sim, Settings()) as user:
        yield user


@pytest.fixture
async def locked_user(sim: Simulator) -> AsyncIterator[User]:
    async with whole_app(sim, Settings(control_token='open sesame')) as user:
        yield user


async def test_a_run_started_through_the_api_shows_on_the_board(app_user: User, sim):
    await app_user.open('/')
    response = await app_user.http_client.post('/start')
    assert response.status_code == 200
    await app_user.should_see('Processing...')
    sim.step(50)
    await app_user.should_see(f'Completed: {sim.counts.completed}')


async def test_api_calls_change_the_simulator_on_the_event_loop_thread_only(app_user: User, sim):
    threads = []
    sim.subscribe(lambda _change: threads.append(threading.get_ident()))
    for path in ('/start', '/cancel', '/reset'):
        assert (await app_user.http_client.post(path)).status_code == 200
    # start, cancel, and the reset's two: its event (while the run is still shown), then the clearing
    assert len(threads) == 4 and set(threads) == {threading.get_ident()}


async def test_a_run_started_on_the_board_shows_in_the_api(app_user: User, sim):
    await app_user.open('/')
    app_user.find('Start Process').click()
    sim.step(50)
    status = (await app_user.http_client.get('/status')).json()
    assert status['state'] == 'running' and status['completed'] == sim.counts.completed
    finish(sim)
    await app_user.should_see('Completed! Start over?')
    assert (await app_user.http_client.get('/status')).json()['state'] == 'completed'


async def test_unknown_paths_answer_404_without_building_the_board(app_user: User, sim):
    clients_before = len(Client.instances)
    for path in ('/robots.txt', '/wp-login.php', '/status/extra'):
        response = await app_user.http_client.get(path)
        assert response.status_code == 404 and response.json() == {'detail': f'Not found: {path}'}
    assert len(Client.instances) == clients_before, 'a page was built for an unknown path'
    assert (await app_user.http_client.get('/')).status_code == 200
    assert len(Client.instances) == clients_before + 1


async def test_a_single_process_says_it_has_no_cluster(app_user: User):
    response = await app_user.http_client.get('/cluster')
    assert response.status_code == 404
    assert response.json() == {'detail': 'This server runs alone (no --redis): there is no cluster.'}


async def test_with_a_control_token_the_board_watches_until_the_token_is_given(locked_user: User, sim):
    await locked_user.open('/')
    await locked_user.should_see('Watching only')
    start = locked_user.find(marker='start').elements.pop()
    assert not start.enabled
    locked_user.find(marker='token').type('wrong')
    locked_user.find('Unlock').click()
    await locked_user.should_see('That is not the control token.')
    assert not start.enabled and sim.state == RunState.IDLE
    locked_user.find(marker='token').clear().type('open sesame')
    locked_user.find('Unlock').click()
    assert start.enabled
    locked_user.find('Start Process').click()
    assert sim.state == RunState.RUNNING
    response = await locked_user.http_client.post('/reset')
    assert response.status_code == 401 and sim.state == RunState.RUNNING


@pytest.fixture
async def stored_user(sim: Simulator, tmp_path) -> AsyncIterator[User]:
    async with whole_app(sim, Settings(data_dir=tmp_path)) as user:
        yield user


async def test_an_interrupted_run_offers_resume_beside_start_over(stored_user: User, sim):
    await stored_user.open('/')
    stored_user.find('Start Process').click()
    sim.step(50)
    sim.interrupt()  # as a restart after a crash leaves it
    await stored_user.should_see('Resume')
    await stored_user.should_see('Start over')
    await stored_user.should_see(f'Interrupted: {sim.counts.interrupted}')
    stored_user.find('Resume').click()
    assert sim.active and sim.counts.interrupted == 0
    await stored_user.should_see('Processing...')
    await stored_user.should_not_see('Resume')


async def test_the_history_panel_lists_finished_runs_and_opens_one(stored_user: User, sim):
    await stored_user.open('/')
    stored_user.find('Start Process').click()
    finish(sim)
    stored_user.find(marker='history').elements.pop().open()  # a simulated click does not unfold an expansion
    table = stored_user.find(marker='history-table').elements.pop()
    deadline = time.monotonic() + 5
    while not table.rows and time.monotonic() < deadline:
        await asyncio.sleep(0)  # the history is read on the store's own thread: yield until it is shown
    assert [row['id'] for row in table.rows] == [1]
    assert table.rows[0]['counts'] == f'{sim.counts.completed} / {sim.counts.failed}'
    assert table.rows[0]['state'] == 'completed'
    stored_user.find(marker='history-table').trigger('open', 1)
    await stored_user.should_see(marker='run-dialog')
    counts = sim.counts
    took = format_duration(sim.run.finished_s)
    outcome = f'Completed in {took}: {counts.completed} completed, {counts.failed} failed'
    await stored_user.should_see(outcome, marker='run-outcome')
    dialog_grid = stored_user.find(marker='stored-grid').elements.pop()
    assert [entry[:2] for entry in decode(dialog_grid.props['snapshot'])] == [
        (CODES[task.status], task.progress) for task in sim.tasks]
