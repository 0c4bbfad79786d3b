"""The settings panel: a dialog that shapes the next run, checks values in place with messages a person reads,
shows the failure and stall rates in percent and no time limit as an empty field, is filled (and opened) from a
shared link, and says why Start waits.

Most tests drive the panel on a page of its own (a Settings button, the panel, and the page's job of calling
`update()` on every change of the run), so that they test the panel and nothing else; a few go through the board.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from nicegui import ui
from nicegui.testing import User, user_simulation
from starlette.requests import Request

from taskdemo.control import LocalCommands
from taskdemo.settings import RunSettings
from taskdemo.simulator import RunState, Simulator
from taskdemo.ui.fanout import Fanout
from taskdemo.ui.settings_panel import CROSSED, LOCKED, MESSAGES, WAITING, SettingsPanel, next_run_line

from .helpers import finish


@pytest.fixture
def sim(make_sim, request: pytest.FixtureRequest) -> Simulator:
    """A board started without --seed, as usual (`indirect` parameters give it settings, a seed say)."""
    return make_sim(**getattr(request, 'param', {}))


@pytest.fixture
def control(request: pytest.FixtureRequest) -> dict[str, bool]:
    """Whether this page may start runs (the board asks the control token); `indirect` parameters say no."""
    return dict(getattr(request, 'param', {'allowed': True}))


@pytest.fixture
async def panel_user(sim: Simulator, control: dict[str, bool],
                     caplog: pytest.LogCaptureFixture) -> AsyncIterator[User]:
    """A simulated browser on a page with a Settings button and the panel, updated as the page updates it."""
    fanout = Fanout(sim)

    def root(request: Request) -> None:
        panel = SettingsPanel(sim, LocalCommands(sim), query=request.query_params,
                              may_control=lambda: control['allowed'])
        ui.button('Settings', on_click=panel.open).mark('open-settings')
        ui.button('Unlock', on_click=lambda: (control.update(allowed=True), panel.update()))
        fanout.changed.subscribe(lambda change: panel.update() if change.run else None)

    async with user_simulation(root=root) as simulated:
        yield simulated
    errors = [record for record in caplog.get_records('call') if record.levelno >= logging.ERROR]
    assert not errors, f'errors were logged: {[record.getMessage() for record in errors]}'


def field(user: User, name: str) -> ui.input:
    return user.find(marker=f'setting-{name}').elements.pop()


def start_button(user: User) -> ui.button:
    return user.find(marker='start-with').elements.pop()


def reason(user: User) -> str:
    return user.find(marker='start-reason').elements.pop().text


def is_open(user: User) -> bool:
    return user.find(marker='settings').elements.pop().value


async def test_the_panel_is_closed_until_opened_and_shows_what_the_next_run_will_be(panel_user: User, sim):
    await panel_user.open('/')
    assert not is_open(panel_user), 'the board is not pushed aside until someone asks for the settings'
    panel_user.find(marker='open-settings').click()
    assert is_open(panel_user)
    await panel_user.should_see('In force: 50 tasks, about 20 % fail, 30-120 s each at 1x.')
    await panel_user.should_see('Next run: random seed')
    assert field(panel_user, 'tasks').value == '50' and field(panel_user, 'failure_rate').value == '20'
    assert field(panel_user, 'seed').value == '', 'empty: random'
    assert start_button(panel_user).enabled and reason(panel_user) == ''


async def test_a_run_started_from_the_panel_takes_the_failure_rate_in_percent(panel_user: User, sim):
    await panel_user.open('/')
    panel_user.find(marker='open-settings').click()
    field(panel_user, 'failure_rate').set_value('25')
    field(panel_user, 'tasks').set_value('12')
    field(panel_user, 'concurrency').set_value('3')
    panel_user.find('Start with these settings').click()
    assert sim.state == RunState.RUNNING and sim.total == 12 and sim.counts.running == 3
    assert sim.settings.failure_rate == 0.25 and sim.run.settings.failure_rate == 0.25
    assert not is_open(panel_user), 'the panel gets out of the way of the run it started'
    await panel_user.should_see('In force: 12 tasks, about 25 % fail, 30-120 s each at 1x, at most 3 at once.')
    await panel_user.should_see(f'This run: seed {sim.run.seed} · Next run: random seed')


@pytest.mark.parametrize(('name', 'text', 'message', 'fix'), [
    ('tasks', '0', 'Tasks must be a whole number from 1 to 10,000', 'the number of tasks'),
    ('tasks', 'many', 'Tasks must be a whole number from 1 to 10,000', 'the number of tasks'),
    ('tasks', '2.5', 'Tasks must be a whole number from 1 to 10,000', 'the number of tasks'),
    ('failure_rate', '150', 'Failure rate must be between 0 and 100 %', 'the failure rate'),
    ('failure_rate', '-1', 'Failure rate must be between 0 and 100 %', 'the failure rate'),
    ('failure_rate', 'a fifth', 'Failure rate must be between 0 and 100 %', 'the failure rate'),
    ('failure_rate', '0,5', 'Failure rate must be between 0 and 100 %', 'the failure rate'),
    ('min_duration', '0', 'The shortest task must last more than 0 s and at most 604,800 s (a week)',
     'the shortest task'),
    ('max_duration', '1e9', 'The longest task must last more than 0 s and at most 604,800 s (a week)',
     'the longest task'),
    ('speed', 'nan', 'Speed must be more than 0 and at most 100,000', 'the speed'),
    ('seed', '-4', 'Seed must be a whole number from 0 to 9,223,372,036,854,775,807, or empty for a random one',
     'the seed'),
    ('concurrency', '-1', 'Tasks at once must be a whole number from 0 (no limit) to 10,000', 'the tasks at once'),
    ('stall_rate', '101', 'Stall rate must be between 0 and 100 %', 'the stall rate'),
    ('stall_rate', 'some', 'Stall rate must be between 0 and 100 %', 'the stall rate'),
    ('task_timeout', '0', 'The time limit must be more than 0 s and at most 604,800 s (a week), or empty for none',
     'the time limit'),
    ('task_timeout', '-5', 'The time limit must be more than 0 s and at most 604,800 s (a week), or empty for none',
     'the time limit'),
    ('task_timeout', 'forever', 'The time limit must be more than 0 s and at most 604,800 s (a week), or empty for '
                                'none', 'the time limit'),
    ('min_duration', '500', 'The shortest task must not be longer than the longest', 'the shortest task'),
    ('max_duration', '20', 'The longest task must not be shorter than the shortest', 'the longest task'),
])
async def test_a_bad_value_is_named_in_plain_words_and_start_says_what_to_fix(panel_user: User, sim, name, text,
                                                                              message, fix):
    await panel_user.open('/')
    field(panel_user, name).set_value(text)
    assert field(panel_user, name).error == message
    assert [other for other in MESSAGES if other != name and field(panel_user, other).error] == []
    assert not start_button(panel_user).enabled
    assert reason(panel_user) == f'Fix {fix} to start'
    panel_user.find('Start with these settings').click()
    assert sim.state == RunState.IDLE and sim.run is None


async def test_start_comes_back_once_every_value_is_fixed(panel_user: User, sim):
    await panel_user.open('/')
    field(panel_user, 'failure_rate').set_value('120')
    field(panel_user, 'speed').set_value('0')
    assert reason(panel_user) == 'Fix the failure rate and the speed to start'
    field(panel_user, 'failure_rate').set_value('12.5')
    assert reason(panel_user) == 'Fix the speed to start' and not start_button(panel_user).enabled
    field(panel_user, 'speed').set_value('10')
    assert reason(panel_user) == '' and start_button(panel_user).enabled
    assert field(panel_user, 'failure_rate').error is None and field(panel_user, 'speed').error is None
    panel_user.find('Start with these settings').click()
    assert sim.settings == RunSettings(failure_rate=0.125, speed=10)


async def test_the_two_durations_are_checked_together_and_either_one_fixes_both(panel_user: User, sim):
    await panel_user.open('/')
    field(panel_user, 'max_duration').set_value('20')
    assert field(panel_user, 'max_duration').error == CROSSED['max_duration']
    field(panel_user, 'min_duration').set_value('10')
    assert field(panel_user, 'min_duration').error is None and field(panel_user, 'max_duration').error is None
    assert start_button(panel_user).enabled


async def test_numbers_may_have_thousands_separators(panel_user: User, sim):
    await panel_user.open('/?tasks=10000')
    assert field(panel_user, 'tasks').value == '10000', 'a link is shown as it came'
    field(panel_user, 'tasks').set_value('2,000')
    panel_user.find('Start with these settings').click()
    assert sim.total == 2000
    await panel_user.should_see('In force: 2,000 tasks, about 20 % fail, 30-120 s each at 1x.')


async def test_while_a_run_goes_on_the_panel_says_why_start_waits(panel_user: User, sim):
    await panel_user.open('/')
    sim.start()
    await panel_user.should_see(WAITING)
    assert not start_button(panel_user).enabled
    field(panel_user, 'speed').set_value('fast')
    assert reason(panel_user) == 'Fix the speed to start', 'what the person can fix comes first'
    field(panel_user, 'speed').set_value('60')
    assert reason(panel_user) == WAITING
    finish(sim)
    assert reason(panel_user) == '' and start_button(panel_user).enabled


@pytest.mark.parametrize('control', [{'allowed': False}], indirect=True)
async def test_without_control_start_waits_for_the_token(panel_user: User, sim, control):
    await panel_user.open('/')
    assert reason(panel_user) == LOCKED and not start_button(panel_user).enabled
    panel_user.find('Unlock').click()
    assert reason(panel_user) == '' and start_button(panel_user).enabled


async def test_the_seed_of_one_run_is_not_the_seed_of_the_next(panel_user: User, sim):
    await panel_user.open('/')
    field(panel_user, 'seed').set_value('9')
    panel_user.find('Start with these settings').click()
    assert sim.run.seed == 9 and sim.settings.seed is None
    await panel_user.should_see('This run: seed 9 · Next run: random seed')
    finish(sim)
    sim.start()  # the header's Start, the API: the settings in force
    assert sim.run.seed != 9 and sim.run.settings.seed is None
    panel_user.find(marker='open-settings').click()
    assert field(panel_user, 'seed').value == '9', 'a seed the person typed stays in the field'


@pytest.mark.parametrize('sim', [{'seed': 11}], indirect=True)
async def test_a_server_seed_is_the_seed_of_every_run(panel_user: User, sim):
    await panel_user.open('/')
    assert field(panel_user, 'seed').value == '11'
    await panel_user.should_see('Next run: seed 11')
    sim.start(RunSettings(seed=4))
    await panel_user.should_see('This run: seed 4 · Next run: seed 11')


async def test_opening_the_panel_shows_the_settings_now_in_force_unless_they_were_edited(panel_user: User, sim):
    await panel_user.open('/')
    sim.start(RunSettings(tasks=80, failure_rate=0.05, seed=3))  # from another tab or the API
    finish(sim)
    panel_user.find(marker='open-settings').click()
    assert field(panel_user, 'tasks').value == '80' and field(panel_user, 'failure_rate').value == '5'
    assert field(panel_user, 'seed').value == '', 'the seed was for that run only'
    field(panel_user, 'tasks').set_value('70')
    sim.start(RunSettings(tasks=90))
    panel_user.find(marker='open-settings').click()
    assert field(panel_user, 'tasks').value == '70', 'what the person typed is not overwritten'


async def test_a_shared_link_opens_the_panel_filled_and_the_panel_makes_links(panel_user: User, sim):
    await panel_user.open('/?tasks=200&seed=9&concurrency=20&speed=60&failure_rate=0.3')
    assert is_open(panel_user), 'a link with settings opens the panel at once'
    assert field(panel_user, 'tasks').value == '200' and field(panel_user, 'seed').value == '9'
    assert field(panel_user, 'failure_rate').value == '30', 'a link keeps the fraction; the panel shows percent'
    assert sim.state == RunState.IDLE, 'a link fills the panel; it starts nothing'
    field(panel_user, 'failure_rate').set_value('7')
    panel_user.find('Share link').click()
    link = panel_user.find(marker='share-link').elements.pop().text
    assert link == ('/?tasks=200&failure_rate=0.07&min_duration=30&max_duration=120&speed=60&seed=9'
                    '&concurrency=20&stall_rate=0&task_timeout=none'), 'no time limit is said, not left out'
    panel_user.find('Start with these settings').click()
    assert sim.run.settings == RunSettings(tasks=200, failure_rate=0.07, speed=60, seed=9, concurrency=20)


async def test_stalls_and_a_time_limit_travel_in_a_link_and_start_a_run_with_them(panel_user: User, sim):
    await panel_user.open('/?tasks=200&stall_rate=0.1&task_timeout=90&seed=5')
    assert is_open(panel_user)
    assert field(panel_user, 'stall_rate').value == '10', 'a link keeps the fraction; the panel shows percent'
    assert field(panel_user, 'task_timeout').value == '90'
    panel_user.find('Share link').click()
    link = panel_user.find(marker='share-link').elements.pop().text
    assert link.endswith('&seed=5&concurrency=0&stall_rate=0.1&task_timeout=90'), link
    panel_user.find('Start with these settings').click()
    assert sim.run.settings == RunSettings(tasks=200, stall_rate=0.1, task_timeout=90, seed=5)
    await panel_user.should_see('In force: 200 tasks, about 20 % fail, about 10 % hang, 30-120 s each at 1x, '
                                'time limit 90 s.')


@pytest.mark.parametrize('sim', [{'task_timeout': 60, 'stall_rate': 0.25}], indirect=True)
async def test_an_emptied_time_limit_means_none_and_a_link_says_none(panel_user: User, sim):
    await panel_user.open('/')
    assert field(panel_user, 'task_timeout').value == '60' and field(panel_user, 'stall_rate').value == '25'
    field(panel_user, 'task_timeout').set_value('')
    assert field(panel_user, 'task_timeout').error is None and start_button(panel_user).enabled
    field(panel_user, 'stall_rate').set_value('2.5 %')
    panel_user.find('Share link').click()
    link = panel_user.find(marker='share-link').elements.pop().text
    assert link.endswith('&stall_rate=0.025&task_timeout=none'), link
    panel_user.find('Start with these settings').click()
    assert sim.run.settings.task_timeout is None and sim.run.settings.stall_rate == 0.025


@pytest.mark.parametrize('sim', [{'task_timeout': 60}], indirect=True)
async def test_a_link_made_without_a_time_limit_opens_without_one_where_one_is_in_force(panel_user: User, sim):
    await panel_user.open('/?task_timeout=none&stall_rate=0')
    assert field(panel_user, 'task_timeout').value == 'none' and field(panel_user, 'task_timeout').error is None
    panel_user.find('Start with these settings').click()
    assert sim.run.settings.task_timeout is None


async def test_a_bad_value_in_a_link_is_named_at_once(panel_user: User, sim):
    await panel_user.open('/?min_duration=500&tasks=3&failure_rate=2')
    assert is_open(panel_user)
    assert field(panel_user, 'min_duration').error == CROSSED['min_duration']
    assert field(panel_user, 'failure_rate').value == '200'
    assert field(panel_user, 'failure_rate').error == MESSAGES['failure_rate']
    assert field(panel_user, 'tasks').error is None
    assert reason(panel_user) == 'Fix the failure rate and the shortest task to start'


async def test_the_board_opens_the_panel_from_a_link_and_updates_it_on_a_run(user: User, sim):
    await user.open('/?tasks=12')
    assert is_open(user) and field(user, 'tasks').value == '12'
    sim.start()
    await user.should_see(WAITING)
    await user.should_see(f'This run: seed {sim.run.seed} · Next run: random seed')


@pytest.mark.parametrize(('settings', 'line'), [
    (RunSettings(speed=10), 'Next run: 50 tasks, about 20 % fail, 30-120 s each at 10x, random seed'),
    (RunSettings(tasks=1000, failure_rate=0.125, concurrency=10, seed=7, speed=0.5),
     'Next run: 1,000 tasks, about 12.5 % fail, 30-120 s each at 0.5x, at most 10 at once, seed 7'),
    (RunSettings(tasks=1, failure_rate=0, min_duration=60, max_duration=60, speed=1500, concurrency=2000),
     'Next run: 1 task, none fail, 60 s each at 1,500x, at most 2,000 at once, random seed'),
    (RunSettings(tasks=10_000, failure_rate=1, min_duration=0.5, max_duration=7200),
     'Next run: 10,000 tasks, all fail, 0.5-7,200 s each at 1x, random seed'),
    (RunSettings(tasks=200, stall_rate=0.1, task_timeout=90, concurrency=20, speed=10),
     'Next run: 200 tasks, about 20 % fail, about 10 % hang, 30-120 s each at 10x, time limit 90 s, '
     'at most 20 at once, random seed'),
    (RunSettings(stall_rate=1, task_timeout=0.5),
     'Next run: 50 tasks, about 20 % fail, all hang, 30-120 s each at 1x, time limit 0.5 s, random seed'),
])
def test_the_next_run_in_plain_words(settings, line):
    assert next_run_line(settings) == line
