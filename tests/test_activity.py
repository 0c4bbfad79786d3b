"""Who did what (issue 17, activity): every command is an event of its run with where it came from, kept with the
run (SQLite here; Redis in tests/cluster), listed live newest first (`Activity`, `GET /activity`, the Activity
panel, a run's History dialog, its export), and told on every other page when a run is started, reset or
cancelled. Time moves only through `sim.step(dt)`."""
from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nicegui.testing import User

from taskdemo.activity import Activity, Entry, source_words
from taskdemo.api import install_api, install_error_handlers
from taskdemo.control import LocalCommands
from taskdemo.history import SqliteHistory
from taskdemo.model import EventKind, RunState, crash_noted, moment_at
from taskdemo.recorder import Recorder
from taskdemo.settings import RunSettings, Settings
from taskdemo.simulator import Simulator
from taskdemo.store import RunRow, Store

from .helpers import finish


def kinds(entries: list[Entry]) -> list[tuple[str, str]]:
    return [(entry.event.kind.value, entry.event.source) for entry in entries]


@pytest.mark.parametrize(('source', 'words'), [
    ('tab:7f3', 'a board tab (tab 7f3)'),
    ('tab:7f3@host:8081', 'a board tab (tab 7f3)'),
    ('api:127.0.0.1', 'API from 127.0.0.1'),
    ('token', 'API with the control token'),
    ('process:host:8082', 'process host:8082'),
    ('', ''),
])
def test_sources_in_words(source, words):
    assert source_words(source) == words


async def test_every_command_is_logged_with_its_source_and_told_once_per_turn(sim: Simulator):
    activity = Activity(sim)
    told: list[list[tuple[str, str]]] = []
    activity.changed.subscribe(lambda entries: told.append(kinds(entries)))
    commands = LocalCommands(sim)
    await commands.by('tab:7f3').start({'tasks': 4, 'failure_rate': 1, 'seed': 2})
    await asyncio.sleep(0)
    sim.step(200)
    await asyncio.sleep(0)
    await commands.by('api:10.0.0.9').retry_task(1)
    await commands.by('token').reset()  # a running run: cancelled, then cleared, in one command
    await asyncio.sleep(0)
    assert told == [[('start', 'tab:7f3')], [('completed', '')],
                    [('retry_task', 'api:10.0.0.9'), ('cancel', 'token'), ('reset', 'token')]], \
        'what one turn of the event loop added comes as one batch'
    newest = activity.recent(2)
    assert [entry.sentence() for entry in newest] == [
        'Run 1 cleared from the board (reset) by API with the control token.',
        'Run 1 cancelled by API with the control token.']
    start = activity.recent()[-1]
    assert start.sentence('tab:7f3') == \
        'Run 1 started by you (tab 7f3): 4 tasks, 100 % failing, 30-120 s, ×1, seed 2.'
    assert start.as_dict()['by'] == 'a board tab (tab 7f3)' and start.as_dict()['source'] == 'tab:7f3'


async def test_a_refused_command_logs_nothing(sim: Simulator):
    activity = Activity(sim)
    commands = LocalCommands(sim).by('tab:abc')
    await commands.start()
    with pytest.raises(Exception, match='already active'):
        await commands.start()
    assert kinds(activity.recent()) == [('start', 'tab:abc')]


def test_a_run_completing_is_nobodys_doing_even_while_a_command_is_carried_out(make_sim):
    sim = make_sim(tasks=3)
    with sim.acting('tab:abc'):
        sim.start()
        finish(sim)  # as when a command's step ends the last task
    assert [(event.kind, event.source) for event in sim.events] == [(EventKind.START, 'tab:abc'),
                                                                    (EventKind.COMPLETED, '')]


async def test_sources_are_stored_with_the_run_and_read_back_after_a_restart(make_sim, tmp_path: Path):
    sim = make_sim(tasks=3, seed=5)
    recorder = Recorder(sim, Store(tmp_path))
    commands = LocalCommands(sim)
    await commands.by('tab:aaa').start()
    finish(sim)
    await commands.by('api:192.0.2.1').reset()
    await recorder.flush()
    await recorder.written()
    recorder.close()

    again = make_sim(tasks=3)
    recorder = Recorder(again, Store(tmp_path))
    again.number_runs_after(recorder.store.newest_run_id())  # as the app does
    activity = Activity(again, SqliteHistory(recorder))
    await activity.load()
    assert kinds(activity.recent())[::-1] == [('start', 'tab:aaa'), ('completed', ''), ('reset', 'api:192.0.2.1')]
    await LocalCommands(again).by('token').start()
    assert kinds(activity.recent(1)) == [('start', 'token')], 'live entries come after the stored ones'
    assert activity.recent(1)[0].run_id == 2
    recorder.close()


def test_an_events_table_without_sources_gets_the_column(make_sim, tmp_path: Path):
    """A database of the taskdemo before sources: its events read back with none, and new ones keep theirs."""
    store = Store(tmp_path)
    path = store.path
    store.close()
    with sqlite3.connect(path) as db:
        db.execute('ALTER TABLE events DROP COLUMN source')
    store = Store(tmp_path)
    columns = [row[1] for row in store._db.execute('PRAGMA table_info(events)')]  # noqa: SLF001
    assert columns[-1] == 'source'
    store.close()


@pytest.fixture
async def api(sim: Simulator) -> httpx.AsyncClient:
    app = FastAPI()
    install_api(app, sim, Settings())
    install_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app, client=('203.0.113.5', 5000)),
                                 base_url='http://test') as client:
        yield client


async def test_the_api_says_who_did_what_newest_first(api: httpx.AsyncClient, sim: Simulator):
    assert (await api.post('/start', json={'tasks': 3})).status_code == 200
    assert (await api.post('/cancel')).status_code == 200
    body = (await api.get('/activity', params={'limit': 1})).json()
    assert body == {'entries': [{'run_id': 1, 'seq': 1, 'kind': 'cancel', 'wall': sim.events[1].wall,
                                 'at_s': 0.0, 'tasks': [], 'source': 'api:203.0.113.5', 'by': 'API from 203.0.113.5',
                                 'text': 'Run 1 cancelled'}]}
    whole = (await api.get('/activity')).json()['entries']
    assert [entry['kind'] for entry in whole] == ['cancel', 'start']


@pytest.mark.parametrize('limit', ['0', '501', 'ten'])
async def test_a_bad_limit_is_a_422_that_says_so(api: httpx.AsyncClient, limit):
    response = await api.get('/activity', params={'limit': limit})
    assert response.status_code == 422 and 'limit' in response.text


async def test_with_a_control_token_the_source_is_the_token(sim: Simulator):
    app = FastAPI()
    install_api(app, sim, Settings(control_token='s3cret'))
    install_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        assert (await client.post('/start', headers={'Authorization': 'Bearer s3cret'})).status_code == 200
        assert (await client.post('/reset')).status_code == 401
        entries = (await client.get('/activity')).json()['entries']
    assert [(entry['kind'], entry['by']) for entry in entries] == [('start', 'API with the control token')]


async def test_the_panel_lists_live_and_other_pages_hear_of_a_start_a_reset_and_a_cancel(user: User, another_user,
                                                                                         sim: Simulator):
    await user.open('/')
    me = user.find(marker='viewers-detail').elements.pop().text.rsplit(' ', 1)[1]
    user.find(marker='activity').elements.pop().set_value(True)  # open the panel
    await user.should_see('Nothing was done yet.', marker='activity-empty')
    user.find('Start Process').click()
    await user.should_see(f'Run 1 started by you (tab {me})', marker='activity-entry')
    other = another_user()
    await other.open('/')
    other.find(marker='activity').elements.pop().set_value(True)
    await other.should_see(f'Run 1 started by a board tab (tab {me})', marker='activity-entry')
    assert user.notify.messages == [], 'a page is not told what it did itself'
    await LocalCommands(sim).by('api:127.0.0.1').reset()  # a running run: cancelled and cleared
    await other.should_see('Run 1 cleared from the board (reset) by API from 127.0.0.1', marker='activity-entry')
    # both pages are told (NiceGUI's simulated users share one list of notifications), each once, as a reset
    assert [message for message in other.notify.messages if 'Run 1' in message] == [
        'Run 1 cleared from the board (reset) by API from 127.0.0.1.'] * 2
    await LocalCommands(sim).by('token').start()
    await other.should_see('Run 2 started by API with the control token')
    panel = other.find(marker='activity').elements.pop()
    texts = [element.text for element in panel.descendants() if 'activity-text' in element.classes]
    assert [text.split(' by ')[0] for text in texts] == [
        'Run 2 started', 'Run 1 cleared from the board (reset)', 'Run 1 cancelled', 'Run 1 started'], 'newest first'


async def test_start_over_asks_only_when_others_watch_and_cancel_asks_while_a_run_goes(user: User, another_user,
                                                                                       sim: Simulator):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    await user.should_see('Completed! Start over?')
    user.find('Completed! Start over?').click()  # a lone viewer of a finished run: no question
    assert sim.active and sim.run.id == 2
    user.find('Cancel').click()
    await user.should_see('Run 2 is still going', marker='confirm-run-question')
    user.find(marker='confirm-run-keep').click()
    assert sim.active, 'kept running'
    finish(sim)
    other = another_user()
    await other.open('/')
    await user.should_see('2 watching', marker='viewers')
    user.find('Completed! Start over?').click()
    await user.should_see('1 other is watching this run. A new run takes run 2 off their boards too',
                          marker='confirm-run-question')
    assert not sim.active, 'asked first'
    user.find(marker='confirm-run-yes').click()
    await user.should_see('Processing...')
    assert sim.run.id == 3


async def test_a_run_dialog_in_history_lists_its_activity(stored_user: User, sim: Simulator):
    await stored_user.open('/')
    me = stored_user.find(marker='viewers-detail').elements.pop().text.rsplit(' ', 1)[1]
    stored_user.find('Start Process').click()
    finish(sim)
    await stored_user.should_see('Completed! Start over?')
    stored_user.find(marker='history').elements.pop().set_value(True)
    await stored_user.should_see(marker='history-table')
    stored_user.find(marker='history-table').trigger('open', 1)
    await stored_user.should_see(f'Run 1 started by you (tab {me})', marker='activity-entry')
    await stored_user.should_see('Run 1 completed.', marker='activity-entry')


@pytest.fixture
async def stored_user(sim: Simulator, tmp_path: Path):
    from .test_app import whole_app
    async with whole_app(sim, Settings(data_dir=tmp_path)) as user:
        yield user


def test_settings_for_a_start_come_from_the_run(make_sim):
    sim = make_sim()
    activity = Activity(sim)
    with sim.acting('token'):
        sim.start(RunSettings(tasks=2, concurrency=1, seed=9))
    assert activity.recent()[0].text == 'Run 1 started: 2 tasks, 20 % failing, 30-120 s, ×1, 1 at a time, seed 9'


def ten_seconds_in(make_sim, clock) -> tuple[Simulator, float]:
    """A run of 100 s tasks, 10 s in, the wall clock moved with it; and when it began."""
    sim = make_sim(tasks=5, min_duration=100, max_duration=100)
    began = clock()
    sim.start()
    clock.advance(10)
    sim.step(10)
    return sim, began


def test_the_board_at_a_wall_clock_moment_comes_from_the_runs_log(make_sim, clock):
    """Time runs from an event that leaves the run running and stands still after one that stops it."""
    sim, began = ten_seconds_in(make_sim, clock)
    sim.interrupt()
    clock.advance(90)  # stopped: its time stands
    sim.resume()
    clock.advance(5)
    sim.step(5)
    events = sim.events
    assert moment_at(sim.run, events, began - 1) == (RunState.IDLE, 0.0)
    assert moment_at(sim.run, events, began + 4) == (RunState.RUNNING, 4.0)
    assert moment_at(sim.run, events, began + 50) == (RunState.INTERRUPTED, 10.0)
    assert moment_at(sim.run, events, began + 102) == (RunState.RUNNING, 12.0)
    assert moment_at(sim.run, events, began + 500) == (RunState.RUNNING, 15.0), 'never past the run\'s own time'


def test_a_crash_found_on_a_restart_came_after_anything_a_connected_page_saw(make_sim, clock):
    sim, began = ten_seconds_in(make_sim, clock)
    events = crash_noted(replace(sim.run, state=RunState.INTERRUPTED), sim.events)  # as a restart finds it
    assert events[-1].crash and events[-1].wall == began + 10
    assert moment_at(sim.run, events, began + 10.5) == (RunState.RUNNING, 10.0), 'a page saw it running then'


class Slow:
    """A history whose answers wait until the test lets them go (Redis, at a cluster process's start-up)."""

    keep_runs = 10

    def __init__(self, row, events) -> None:
        self.row, self.kept, self.go = row, events, asyncio.Event()

    async def runs(self, limit=None):
        return [self.row]

    async def events(self, run_id):
        await self.go.wait()
        return list(self.kept)


async def test_the_stored_runs_read_at_start_up_and_the_live_copy_never_list_an_event_twice(make_sim):
    """In a cluster the mirror may adopt the run while the start-up read of the history is on its way."""
    done = make_sim(tasks=3, seed=2)
    done.start()
    finish(done)
    row = RunRow(id=1, started_at=done.run.started_at, settings=done.run.settings.as_dict(), seed=2,
                 state='completed', elapsed_s=done.run.elapsed_s, finished_s=done.run.finished_s, total=3,
                 completed=done.counts.completed, failed=done.counts.failed, cancelled=0)
    mirror = make_sim(tasks=3)
    history = Slow(row, done.events)
    activity = Activity(mirror, history)
    loading = asyncio.create_task(activity.load())
    await asyncio.sleep(0)
    mirror.restore(done.run, done.tasks, done.events)  # the snapshot adopted meanwhile
    history.go.set()
    await loading
    assert kinds(activity.recent())[::-1] == [('start', ''), ('completed', '')]
