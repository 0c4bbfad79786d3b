"""The board on commands that are carried to another process (as in a cluster): each one waits before it is done,
and while no process can take it, it is refused with a 503 that the board shows in words, as any refusal."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nicegui.testing import User, user_simulation

from taskdemo.control import Commands, ControlError, LocalCommands
from taskdemo.simulator import RunState, Simulator, TaskStatus
from taskdemo.ui.grid import TaskGrid
from taskdemo.ui.page import create_root

from .helpers import finish

PAUSED = 'No process is advancing the run right now; try again in a moment.'


class Remote(Commands):
    """Commands sent elsewhere: the answer comes a turn of the event loop later, or not at all while paused."""

    def __init__(self, sim: Simulator) -> None:
        self.local = LocalCommands(sim)
        self.paused = False

    async def send(self, op: str, args: dict[str, Any], source: str) -> dict[str, Any]:
        await self._wait()
        return await self.local.send(op, args, source)

    async def _wait(self) -> None:
        await asyncio.sleep(0)
        if self.paused:
            raise ControlError(503, PAUSED, retry_after=1)


@pytest.fixture
def sim(make_sim) -> Simulator:
    return make_sim(tasks=20, failure_rate=0.5, seed=4)


@pytest.fixture
def remote(sim: Simulator) -> Remote:
    return Remote(sim)


@pytest.fixture
async def user(sim: Simulator, remote: Remote, caplog: pytest.LogCaptureFixture) -> AsyncIterator[User]:
    async with user_simulation(root=create_root(sim, remote)) as simulated:
        yield simulated
    errors = [record for record in caplog.get_records('call') if record.levelno >= logging.ERROR]
    assert not errors, f'errors were logged: {[record.getMessage() for record in errors]}'


async def test_commands_that_wait_start_cancel_and_retry_the_run_as_local_ones_do(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    await user.should_see('Processing...')
    assert sim.active
    sim.step(10)
    user.find('Cancel').click()
    user.find(marker='confirm-run-yes').click()
    await user.should_see('Start over')
    assert sim.state == RunState.CANCELLED
    assert user.notify.messages == [], 'cancelled here, though the answer came later: not told as news'
    user.find('Start over').click()
    await user.should_see('Processing...')
    finish(sim)
    failed = sim.failed_tasks()
    user.find('Retry failed').click()
    await user.should_see(f'Retrying {len(failed)} failed tasks')
    assert sim.active and [task.id for task in sim.tasks if task.attempt == 2] == failed


async def test_a_503_while_no_process_takes_commands_shows_in_words_and_changes_nothing(user: User, sim, remote):
    await user.open('/')
    remote.paused = True
    user.find('Start Process').click()
    await user.should_see(f'Not started: {PAUSED}')
    assert sim.state == RunState.IDLE
    remote.paused = False
    user.find('Start Process').click()
    await user.should_see('Processing...')
    remote.paused = True
    user.find('Cancel').click()
    user.find(marker='confirm-run-yes').click()
    await user.should_see(f'Not cancelled: {PAUSED}')
    assert sim.active
    await LocalCommands(sim).by('api:10.0.0.7').cancel()  # then somebody else cancels it: this page says so
    await user.should_see('Run 1 cancelled by API from 10.0.0.7')


async def test_the_settings_panel_keeps_its_values_open_when_its_start_is_refused(user: User, sim, remote):
    await user.open('/')
    user.find(marker='open-settings').click()
    user.find(marker='setting-tasks').clear().type('7')
    remote.paused = True
    user.find('Start with these settings').click()
    await user.should_see(f'Not started: {PAUSED}')
    assert sim.state == RunState.IDLE
    assert user.find(marker='settings').elements.pop().value, 'the panel stays open'
    remote.paused = False
    user.find('Start with these settings').click()
    await user.should_see('Processing...')
    assert sim.total == 7


async def test_one_task_is_cancelled_and_retried_from_its_details_through_commands_that_wait(user: User, sim, remote):
    await user.open('/')
    user.find('Start Process').click()
    await user.should_see('Processing...')
    sim.step(5)
    before = {task.id: (task.status, task.attempt) for task in sim.tasks if task.id != 3}
    user.find(TaskGrid).trigger('open', {'id': 3})
    await user.should_see('Task 3: Running', marker='details-heading')
    remote.paused = True
    user.find('Cancel this task').click()
    user.find(marker='confirm-cancel').click()
    await user.should_see(f'Not cancelled: {PAUSED}')
    assert sim.tasks[3].status == TaskStatus.RUNNING
    remote.paused = False
    user.find('Cancel this task').click()
    user.find(marker='confirm-cancel').click()
    await user.should_see('Task 3 cancelled; the run goes on.')
    assert sim.tasks[3].status == TaskStatus.CANCELLED and sim.active
    user.find('Retry this task').click()
    await user.should_see('Task 3 retried (attempt 2)')
    assert (sim.tasks[3].status, sim.tasks[3].attempt) == (TaskStatus.RUNNING, 2)
    assert {task.id: (task.status, task.attempt) for task in sim.tasks if task.id != 3} == before
