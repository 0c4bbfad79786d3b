"""The board replayed, in NiceGUI's simulated browser: move the replay bar back and the whole board is as it was then
(counters, chips, failure groups, every card), compared with the live board recorded at that moment. Then back to
live, links to a moment, Share, History's Replay this run, and nothing on a replayed board acts on the live run.

The run: 50 tasks of 30-120 s at speed 1, seed 7 (tests/conftest.py); time moves only through `sim.step(dt)`, in
steps of 0.5 s, so a moment of the run is an exact number of seconds.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections.abc import AsyncIterator

import pytest
from nicegui import ElementFilter
from nicegui.testing import User

from taskdemo import protocol
from taskdemo.replay import Recording, Replay
from taskdemo.settings import Settings
from taskdemo.simulator import Simulator
from taskdemo.ui.grid import TaskGrid
from taskdemo.ui.grid_wire import snapshot

from .helpers import finish
from .test_app import whole_app
from .test_grid_wire import decode


async def flush() -> None:
    """Let the page's last updates go out. Left queued, the NiceGUI app's teardown may cancel its outbox as they
    wake it, and Python 3.11's wait_for then drops the cancellation: the teardown waits 2 s for it in vain."""
    for _ in range(5):
        await asyncio.sleep(0)


COUNTERS = ('progress-text', 'completed-count', 'failed-count', 'running-count', 'pending-count', 'pace')


def board(user: User) -> dict:
    """What the page shows of the run now (the visible board: the replayed one while the page replays)."""
    seen = {marker: user.find(marker=marker).elements.pop().text for marker in COUNTERS}
    seen['chips'] = user.find(marker='filters').elements.pop().options
    seen['grid'] = cards(user.find(TaskGrid).elements.pop().props['snapshot'])
    return seen


def cards(grid_snapshot: dict) -> list[tuple]:
    """Every card's state code, percent, start, end and error (no time as None: NaN equals nothing)."""
    return [tuple(None if value != value else value for value in card) for card in decode(grid_snapshot)]


def groups_shown(user: User) -> list[tuple[str, list[int]]]:
    """The failure groups on the page: (error, ids) for each."""
    groups = []
    for number in itertools.count():
        with contextlib.suppress(AssertionError):  # no such group: user.find says so
            error = user.find(marker=f'failure-error-{number}').elements.pop().text
            links = user.find(marker=f'failure-tasks-{number}').elements.pop().content
            groups.append((error, [int(i) for i in re.findall(r'data-task="(\d+)"', links)]))
            continue
        return groups
    return groups


def scrub(user: User, seconds: float, *, release: bool = False) -> None:
    """Drag the slider to `seconds` (and let go of it there, with `release`)."""
    user.find(marker='replay-slider').trigger('change' if release else 'update:modelValue', seconds)


async def test_the_bar_shows_once_there_is_a_run_and_its_end_follows_the_run_once_a_second(user: User, sim):
    await user.open('/')
    bar = user.find(marker='replay-bar').elements.pop()
    assert 'replay-idle' in bar.classes, 'not seen before a run (its place kept: a start moves nothing)'
    user.find('Start Process').click()
    assert 'replay-idle' not in bar.classes
    slider = user.find(marker='replay-slider').elements.pop()
    sim.step(0.5)
    assert slider.props['max'] == 0.0, 'not per tick: the same second of the run'
    sim.step(0.5)
    assert slider.props['max'] == slider.value == 1.0
    await user.should_see('1 s · live', marker='replay-time')
    await user.should_not_see(marker='replay-banner')
    finish(sim)
    assert slider.props['max'] == slider.value == sim.run.finished_s == 119.5, 'the end, exactly, once it ends'
    await user.should_see('119.5 s · ended', marker='replay-time')


async def test_scrubbing_back_shows_the_whole_board_as_it_was_live_at_that_moment(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    sim.step(0.5)
    live = {}
    while sim.run.elapsed_s < 90:
        sim.step(0.5)
        if sim.run.elapsed_s in {35.0, 62.5, 88.0}:
            live[sim.run.elapsed_s] = ({**board(user), 'grid': cards(snapshot(sim))}, sim.error_groups())
    assert all(groups for _, groups in live.values()), 'seed 7: failures by 35 s'
    for seconds, (seen, groups) in live.items():
        scrub(user, seconds)
        await user.should_see(f'Replaying run 1 at {seconds:.1f} s', marker='replay-text')
        assert board(user) == seen
        assert groups_shown(user) == groups, 'the failure groups so far'
    assert user.find(marker='replay-time').elements.pop().text == f'88.0 s of {sim.run.elapsed_s:.1f} s'


async def test_a_moment_is_the_replay_engines_and_a_scrub_sends_the_grid_one_patch(user: User, sim, grid_calls,
                                                                                      monkeypatch):
    updates, send = [], TaskGrid.update  # the grid's element sent whole (all its props, the snapshot with them)
    monkeypatch.setattr(TaskGrid, 'update', lambda grid: (updates.append(grid), send(grid))[-1])
    await user.open('/')
    user.find('Start Process').click()
    for _ in range(100):
        sim.step(0.5)
    scrub(user, 20.0)
    await user.should_see(marker='replay-banner')
    replay = Replay(Recording(sim.run, sim.tasks, list(sim.events), live=True))
    status = protocol.status(replay.at(20.0))
    await user.should_see(f'Completed: {status["completed"]}', marker='completed-count')
    await user.should_see(f'Failed: {status["failed"]}', marker='failed-count')
    grid = user.find(TaskGrid).elements.pop()
    before = grid.props['snapshot']['key']
    grid_calls.clear()
    updates.clear()
    scrub(user, 30.0)
    await user.should_see('Replaying run 1 at 30.0 s', marker='replay-text')
    assert grid.props['snapshot']['key'] != before, 'the props hold the new moment, for a page drawing it anew'
    assert cards(grid.props['snapshot']) == cards(snapshot(replay.at(30.0)))
    (name, (change,)), = grid_calls  # the browser gets one patch of the moment it has: no batch, no new grid
    assert updates == [], 'nor the whole snapshot'
    assert name == 'load' and change['base'] == before and change['key'] == grid.props['snapshot']['key']
    assert len(user.find(TaskGrid).elements) == 1


async def test_live_shows_the_live_board_again_and_it_follows_the_run(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    for _ in range(80):
        sim.step(0.5)
    scrub(user, 10.0)
    await user.should_see('Replaying run 1 at 10.0 s', marker='replay-text')
    sim.step(20)
    assert user.find(marker='replay-text').elements.pop().text == 'Replaying run 1 at 10.0 s', 'it stays put'
    user.find(marker='replay-live').click()
    await user.should_not_see(marker='replay-banner')
    await user.should_see(f'Completed: {sim.counts.completed}', marker='completed-count')
    await user.should_see(marker='start')
    sim.step(20)
    await user.should_see(f'Completed: {sim.counts.completed}', marker='completed-count')
    assert user.find(marker='replay-slider').elements.pop().value == 80.0
    assert user.find(TaskGrid).elements.pop().props['anchor'] == 'tasks'


async def test_the_slider_at_the_live_end_is_the_live_board(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    for _ in range(80):
        sim.step(0.5)
    scrub(user, 10.0)
    await user.should_see(marker='replay-banner')
    scrub(user, 40.0)
    await user.should_not_see(marker='replay-banner')
    await user.should_see(f'Running: {sim.counts.running}', marker='running-count')


async def test_a_replayed_board_has_nothing_that_acts_on_the_live_run(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    scrub(user, 100.0)
    await user.should_see('Replaying run 1 at 100.0 s', marker='replay-text')
    for live_control in ('start', 'cancel', 'retry', 'open-settings', 'retry-group-0', 'announcer'):
        await user.should_not_see(marker=live_control)
    assert groups_shown(user), 'its failure groups, without Retry these'
    user.find(TaskGrid).trigger('open', {'id': 3})
    opened = [card for card in user.find(marker='details').elements if card.parent_slot.parent.value]
    assert len(opened) == 1, 'the replayed board\'s own details'
    with user.client:
        assert 'Task 3' in next(iter(ElementFilter(marker='details-heading').within(instance=opened[0]))).text
        assert not list(ElementFilter(marker='task-actions').within(instance=opened[0])), 'no Cancel, no Retry'
    assert user.find(marker='skip-link').elements.pop().props['href'] == '#replay-tasks'


async def test_a_new_live_run_does_not_take_a_replaying_page_out_of_its_replay(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    scrub(user, 50.0)
    await user.should_see('Replaying run 1 at 50.0 s', marker='replay-text')
    sim.start()  # from another tab, or the API
    sim.step(5)
    await user.should_see('Replaying run 1 at 50.0 s', marker='replay-text')
    assert user.find(marker='replay-slider').elements.pop().props['max'] == 119.5, 'still run 1, which ended'
    await user.should_see('Live: run 2', marker='replay-live')
    user.find(marker='replay-live').click()
    await user.should_see('0% · 0 of 50 finished', marker='progress-text')
    await user.should_see('5 s · live', marker='replay-time')


async def test_a_link_opens_the_run_replayed_at_that_moment(user: User, another_user, sim):
    await user.open('/')
    user.find('Start Process').click()
    for _ in range(100):
        sim.step(0.5)
        if sim.run.elapsed_s == 37.5:
            seen = board(user)
    other = another_user()
    await other.open('/?run=1&at=37.5')
    await other.should_see('Replaying run 1 at 37.5 s', marker='replay-text')
    assert board(other) == {**seen, 'grid': board(other)['grid']}
    assert other.find(marker='replay-slider').elements.pop().value == 37.5


@pytest.mark.parametrize(('query', 'message', 'replaying'), [
    ('run=abc', 'The link\'s run must be a run number, not "abc": showing the live board.', None),
    ('run=9&at=3', 'No run 9: this server runs without a data folder, so only the current run (run 1) can be '
                   'replayed. Showing the live board.', None),
    ('run=1&at=soon', 'The link\'s moment (at) must be seconds since the run started, not "soon": showing the end '
                      'of run 1.', 'Replaying run 1 at 119.5 s'),
    ('run=1&at=500', 'Run 1 lasted 119.5 s: showing it at 119.5 s, not 500.0 s.', 'Replaying run 1 at 119.5 s'),
])
async def test_a_bad_link_says_what_was_wrong_and_shows_what_it_can(user: User, sim, query, message, replaying):
    sim.start()
    finish(sim)
    await user.open(f'/?{query}')
    assert user.notify.messages == [message]
    if replaying:
        await user.should_see(replaying, marker='replay-text')
    else:
        await user.should_not_see(marker='replay-banner')


async def test_share_copies_a_link_to_the_moment_shown(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    scrub(user, 95.5)
    await user.should_see(marker='replay-banner')
    user.find(marker='replay-share').click()
    await user.should_see('Link copied: http://test/runs/1?at=95.5', marker='replay-link')
    scrub(user, 90.0)
    await user.should_not_see(marker='replay-link')


@pytest.fixture
async def stored_user(sim: Simulator, tmp_path) -> AsyncIterator[User]:
    async with whole_app(sim, Settings(data_dir=tmp_path)) as user:
        yield user
        await flush()


async def test_history_replays_a_past_run_while_another_one_runs(stored_user: User, sim):
    await stored_user.open('/')
    stored_user.find('Start Process').click()
    finish(sim)
    first = {**board(stored_user)}
    stored_user.find('Completed! Start over?').click()
    sim.step(3)
    stored_user.find(marker='history').elements.pop().value = True  # a simulated click does not unfold it
    await stored_user.should_see(marker='history-table')
    stored_user.find(marker='history-table').trigger('open', 1)
    await stored_user.should_see(marker='run-replay')
    stored_user.find(marker='run-replay').click()
    await stored_user.should_see('Replaying run 1 at 119.5 s', marker='replay-text')
    replayed = board(stored_user)
    for marker in COUNTERS[:-1]:
        assert replayed[marker] == first[marker]
    await stored_user.should_see('119.5 s of 119.5 s', marker='replay-time')
    await stored_user.should_see('Live: run 2', marker='replay-live')

