"""The settings panel: shapes the next run, checks values in place with the CLI's and the API's messages, and
is filled from a shared link."""
from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from taskdemo.settings import RunSettings
from taskdemo.simulator import RunState

from .helpers import finish


def field(user: User, name: str) -> ui.input:
    return user.find(marker=f'setting-{name}').elements.pop()


async def test_the_panel_shows_the_settings_in_force(user: User, sim):
    await user.open('/')
    await user.should_see('In force: 50 tasks, failure rate 0.2, 30-120 s, speed 1, seed 7, all at once.')
    assert field(user, 'tasks').value == '50' and field(user, 'seed').value == '7'


async def test_a_run_started_from_the_panel_uses_its_settings_which_stay_in_force(user: User, sim):
    await user.open('/')
    field(user, 'tasks').set_value('12')
    field(user, 'concurrency').set_value('3')
    field(user, 'seed').set_value('')
    user.find('Start with these settings').click()
    assert sim.state == RunState.RUNNING and sim.total == 12 and sim.counts.running == 3
    assert sim.settings.concurrency == 3 and sim.settings.seed is None
    await user.should_see(f'In force: 12 tasks, failure rate 0.2, 30-120 s, speed 1, seed {sim.run.seed}, '
                          'at most 3 at once.')
    finish(sim)
    user.find('Completed! Start over?').click()
    assert sim.total == 12 and sim.run.id == 2


@pytest.mark.parametrize(('name', 'text', 'message'), [
    ('tasks', '0', 'tasks must be a whole number from 1 to 10,000, got 0'),
    ('tasks', 'many', "tasks must be a whole number from 1 to 10,000, got 'many'"),
    ('failure_rate', '1.5', 'failure_rate must be a number from 0 to 1, got 1.5'),
    ('speed', 'nan', 'speed must be a number greater than 0 and at most 100,000, got nan'),
    ('concurrency', '-1', 'concurrency must be a whole number from 0 to 10,000, got -1'),
    ('min_duration', '500', 'min_duration must not be greater than the longest duration (120)'),
])
async def test_a_bad_value_is_named_in_place_and_nothing_starts(user: User, sim, name, text, message):
    await user.open('/')
    field(user, name).set_value(text)
    assert field(user, name).error == message
    user.find('Start with these settings').click()
    await user.should_see(f'Not started: {message}')
    assert sim.state == RunState.IDLE and sim.settings == RunSettings(seed=7)


async def test_a_shared_link_fills_the_panel_and_the_panel_makes_links(user: User, sim):
    await user.open('/?tasks=200&seed=9&concurrency=20&speed=60')
    assert field(user, 'tasks').value == '200' and field(user, 'seed').value == '9'
    assert field(user, 'concurrency').value == '20' and field(user, 'speed').value == '60'
    assert sim.state == RunState.IDLE, 'a link fills the panel; it starts nothing'
    user.find('Share link').click()
    link = user.find(marker='share-link').elements.pop().text
    assert link == ('/?tasks=200&failure_rate=0.2&min_duration=30&max_duration=120&speed=60&seed=9'
                    '&concurrency=20')
    user.find('Start with these settings').click()
    assert sim.settings == RunSettings(tasks=200, speed=60, seed=9, concurrency=20)


async def test_a_bad_value_in_a_link_is_named_at_once(user: User, sim):
    await user.open('/?min_duration=500&tasks=3')
    assert field(user, 'min_duration').error == 'min_duration must not be greater than the longest duration (120)'
    assert field(user, 'tasks').error is None
