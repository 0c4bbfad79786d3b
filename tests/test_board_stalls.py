"""Stalls and time limits on the board, in NiceGUI's simulated browser: the Stalled counter and chip, the tab title,
the screen-reader announcements, the ETA that leaves stalled tasks out, what the grid is sent, and the timed-out
tasks as a failure group of their own. Time moves only through `sim.step(dt)`.

The run has tasks of exactly 100 s at speed 1 that never fail unless told: a percent a second, so a task whose
percent stands still is stalled after max(5 s, 3 x 1 s) = 5 s (model.stall_after_s). A test gives a task its hang
(`stall_at`, `stall_for`) right after the start, before it has moved, as the seed's plan would have.
"""
from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from taskdemo.model import timeout_message
from taskdemo.simulator import Simulator, TaskStatus
from taskdemo.ui.grid import TaskGrid
from taskdemo.ui.states import STALLED_CODE
from taskdemo.ui.titles import TITLE

from .helpers import finish


@pytest.fixture
def sim(make_sim, request: pytest.FixtureRequest) -> Simulator:
    """20 tasks of 100 s that never fail (`indirect` parameters say otherwise): the `user` fixture shows it."""
    settings = {'tasks': 20, 'min_duration': 100, 'max_duration': 100, 'failure_rate': 0, 'seed': 7}
    return make_sim(**{**settings, **getattr(request, 'param', {})})


async def start(user: User, sim: Simulator, hangs: dict[int, tuple[int, float | None]]) -> None:
    """Open the board, press Start Process and give tasks their hangs: id -> (percent, simulated seconds or None)."""
    await user.open('/')
    user.find('Start Process').click()
    for task_id, (at, lasting) in hangs.items():
        sim.tasks[task_id].stall_at, sim.tasks[task_id].stall_for = at, lasting


def counter(user: User) -> ui.label:
    """The Stalled counter, while it shows (a simulated user finds only what is visible)."""
    return user.find(marker='stalled-count').elements.pop()


def chips(user: User) -> dict[str, str]:
    return user.find(marker='filters').elements.pop().options


async def test_a_stall_is_counted_named_in_the_title_and_announced_when_the_rule_says_and_clears_when_it_moves(
        user: User, sim):
    await start(user, sim, {3: (40, 20.0)})  # it stands still from 40 s to 60 s: stalled after 45 s
    announcer = user.find(marker='announcer').elements.pop()
    sim.step(45)
    await user.should_not_see(marker='stalled-count')
    assert 'stalled' not in chips(user) and user.client.title == f'[0%] {TITLE}'
    sim.step(0.5)
    assert counter(user).text == 'Stalled: 1'
    assert counter(user).props['data-icon'] == 'hourglass_top', 'a word and an icon, as on the card'
    assert chips(user)['stalled'] == 'Stalled 1'
    assert list(chips(user))[:3] == ['all', 'in_progress', 'stalled'], 'beside Running, whose tasks they are'
    assert user.client.title == f'[1 stalled · 0%] {TITLE}'
    assert announcer.text == '0% of tasks finished, 1 stalled'
    sim.step(14.5)  # 60 s: it moves again
    assert sim.stalled_ids == frozenset() and sim.tasks[3].progress == 40
    await user.should_not_see(marker='stalled-count')
    assert user.client.title == f'[0%] {TITLE}'
    assert announcer.text == '0% of tasks finished, none stalled now'
    assert chips(user)['stalled'] == 'Stalled 0', 'a chip stays until the run ends: the row does not jump'
    finish(sim)
    assert 'stalled' not in chips(user)
    assert user.client.title == f'[completed: 20 ok, 0 failed] {TITLE}'


async def test_the_eta_is_that_of_the_tasks_that_move_plus_the_stalled_ones(user: User, sim):
    await start(user, sim, {0: (40, None), 1: (30, None)})
    sim.step(46)
    assert sim.stalled_ids == {0, 1}
    await user.should_see('ETA 54.0 s + 2 stalled', marker='pace')  # the others: 46 % after 46 s
    sim.step(54)
    assert sim.counts.running == 2 and sim.active
    await user.should_see('ETA: waits on 2 stalled', marker='pace')


async def test_the_stalled_chip_narrows_the_grid_to_the_stalled_tasks_and_says_when_there_are_none(
        user: User, sim, grid_calls):
    await start(user, sim, {5: (20, 10.0)})
    sim.step(26)
    toggle = user.find(marker='filters').elements.pop()
    grid_calls.clear()
    toggle.set_value('stalled')
    assert grid_calls == [('showOnly', ([STALLED_CODE],))]
    await user.should_not_see(marker='filter-empty')
    sim.step(4)  # 30 s: it moves again
    await user.should_see('No stalled tasks', marker='filter-empty')
    toggle.set_value('all')
    await user.should_not_see(marker='filter-empty')


async def test_the_grid_hears_of_a_stall_once_when_it_begins_and_once_when_it_ends(user: User, sim, grid_calls):
    await start(user, sim, {17: (40, 20.0)})
    user.find(TaskGrid).trigger('range', {'lo': 0, 'hi': 10})  # task 17 is not on screen
    grid_calls.clear()
    for _ in range(130):
        sim.step(0.5)
    sent = [args[0] for name, args in grid_calls if name == 'apply']
    assert [batch['st'] for batch in sent if batch.get('st')] == [((17, 40.0),)]
    assert [batch['un'] for batch in sent if batch.get('un')] == [[17]]
    assert all(set(batch) <= {'e', 'p', 's', 'err', 'att'} for batch in sent if not batch.get('st') and
               not batch.get('un')), 'a tick without a stall change carries nothing new'


async def test_a_tab_opened_during_a_stall_is_sent_it_at_once(user: User, another_user, sim):
    await start(user, sim, {8: (10, None)})
    sim.step(20)
    late = another_user()
    await late.open('/')
    assert late.find(TaskGrid).elements.pop().props['snapshot']['stalled'] == ((8, 10.0),)
    await late.should_see('Stalled: 1', marker='stalled-count')
    assert late.client.title == f'[1 stalled · 0%] {TITLE}'


@pytest.mark.parametrize('sim', [{'min_duration': 30, 'max_duration': 120, 'failure_rate': 0.2, 'task_timeout': 90}],
                         indirect=True)
async def test_the_timed_out_tasks_are_a_failure_group_that_says_so_and_retry_these_retries_them(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    groups = dict(sim.error_groups())
    timed_out = groups[timeout_message(90)]
    assert timed_out and len(groups) > 1, 'this seed has tasks longer than 90 s and other failures'
    assert all(sim.tasks[i].status == TaskStatus.FAILED and sim.tasks[i].progress < 100 for i in timed_out)
    assert all(sim.tasks[i].finished_s == pytest.approx(sim.tasks[i].started_s + 90) for i in timed_out)
    number = list(groups).index(timeout_message(90))
    await user.should_see('Timed out after 90 s: the time limit per task', marker=f'failure-error-{number}')
    await user.should_see(str(len(timed_out)), marker=f'failure-group-{number}')
    user.find(marker=f'retry-group-{number}').click()
    assert [task.id for task in sim.tasks if task.attempt == 2] == timed_out
    await user.should_see(f'Retrying {len(timed_out)} failed tasks')  # from a button the retry has redrawn
    assert sim.counts.failed == sum(map(len, groups.values())) - len(timed_out)
