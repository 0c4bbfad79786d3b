"""While you were away (issue 17): a tab visible again after 30 s or more hidden, or connected again after a drop,
shows what happened meanwhile; nothing when nothing did. The page's visibility event is triggered as the browser
sends it; time moves only through the fake clock and `sim.step(dt)`."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from nicegui.testing import User, user_simulation
from nicegui.testing.user_interaction import UserInteraction

from taskdemo.control import LocalCommands
from taskdemo.simulator import Simulator, TaskStatus
from taskdemo.ui.page import create_root

from .helpers import FakeClock, finish


@pytest.fixture
async def user(sim: Simulator, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> AsyncIterator[User]:
    async with user_simulation(root=create_root(sim, LocalCommands(sim), clock=clock)) as simulated:
        yield simulated
        for _ in range(5):
            await asyncio.sleep(0)
    errors = [record for record in caplog.get_records('call') if record.levelno >= logging.ERROR]
    assert not errors, f'errors were logged: {[record.getMessage() for record in errors]}'


async def visibility(user: User, state: str) -> None:
    """What the page's script sends on `visibilitychange`: an event of the page's layout (handled once the event
    loop gets to it, as a message from the browser is)."""
    UserInteraction(user, {user.client.layout}, None).trigger('taskdemo_visibility', state)
    for _ in range(3):
        await asyncio.sleep(0)


def lines(user: User) -> list[str]:
    """The digest's lines, in order."""
    card = user.find(marker='digest').elements.pop()
    return [element.text for element in card.descendants() if 'digest-line' in element._markers]  # noqa: SLF001


async def test_hidden_40_s_of_a_run_the_tab_is_told_what_finished_failed_and_who_did_what(user: User, sim, clock):
    await user.open('/')
    user.find('Start Process').click()
    sim.step(40)
    seen = sim.run.elapsed_s
    await visibility(user, 'hidden')
    clock.advance(40)
    finish(sim)
    clock.advance(5)
    await LocalCommands(sim).by('api:127.0.0.1').retry()
    finish(sim)
    await visibility(user, 'visible')
    await user.should_see('While you were away (45.0 s)', marker='digest-heading')
    ended = [task for task in sim.tasks if task.finished_s > seen]  # as they stand now
    completed = sum(task.status == TaskStatus.COMPLETED for task in ended)
    failed = [task.error for task in ended if task.status == TaskStatus.FAILED]
    assert 0 < completed < len(ended) == completed + len(failed) and len(ended) > sim.total - 40
    assert lines(user) == [
        f'Run 1: {len(ended)} tasks finished ({completed} completed, {len(failed)} failed).',
        f'New failures: {failed[0]} ×1.',
        f'Run 1 completed: {sim.counts.completed} completed, {sim.counts.failed} failed.',
        f'Done meanwhile: Run 1: {sum(task.attempt == 2 for task in sim.tasks)} tasks retried by API from 127.0.0.1.']
    announcer = user.find(marker='digest-announcer').elements.pop()
    assert announcer.text.startswith('While you were away (45.0 s). Run 1:'), 'read out once, by a live region'
    user.find(marker='digest-dismiss').click()
    await user.should_not_see(marker='digest')
    assert announcer.text == ''


async def test_a_short_glance_away_or_a_quiet_board_shows_nothing(user: User, sim, clock):
    await user.open('/')
    user.find('Start Process').click()
    sim.step(10)
    await visibility(user, 'hidden')
    clock.advance(29)
    sim.step(29)
    await visibility(user, 'visible')  # hidden under 30 s: no digest, though tasks moved
    await user.should_not_see(marker='digest')
    finish(sim)
    await visibility(user, 'hidden')
    clock.advance(300)
    await visibility(user, 'visible')  # five minutes, and nothing happened
    await user.should_not_see(marker='digest')


async def test_a_reconnect_after_a_drop_tells_what_was_missed_and_the_tabs_own_doing_is_left_out(user: User, sim,
                                                                                                  clock):
    await user.open('/')
    user.find('Start Process').click()  # this tab's own action: never in its digest
    sim.step(5)
    client = user.client
    socket, document = next(iter(client._socket_to_document_id.items()))  # noqa: SLF001
    tab = client.tab_id
    client.handle_disconnect(socket)  # a network drop
    clock.advance(3)
    await LocalCommands(sim).by('tab:0ff').reset()  # another tab resets the running run
    await client.handle_handshake('reconnected', tab, None, document, None)  # the socket is back
    await user.should_see('While you were away (3.0 s)', marker='digest-heading')
    assert lines(user) == ['Done meanwhile: Run 1 cancelled by a board tab (tab 0ff). Run 1 cleared from the board '
                           '(reset) by a board tab (tab 0ff).']


async def test_a_page_reloaded_after_a_restart_is_told_from_the_runs_log(user: User, sim, clock):
    """The page before was cut off; its script kept when it last saw the board, and the page that replaces it
    (NiceGUI reloads it once the server is back) sends that: the board then comes from the run's log."""
    began = clock()
    await LocalCommands(sim).by('tab:abc').start()
    for _ in range(40):  # 20 s of the run, the wall clock moving with it
        sim.step(0.5)
        clock.advance(0.5)
    sim.interrupt()  # the server stopping
    clock.advance(5)
    await user.open('/')  # the page after the restart
    UserInteraction(user, {user.client.layout}, None).trigger('taskdemo_back', {'since': began + 8, 'hidden': False})
    await user.should_see('While you were away (17.0 s)', marker='digest-heading')
    ended = [task for task in sim.tasks if task.status.finished and task.finished_s > 8]
    assert ended, 'tasks ended between 8 s and the stop'
    shown = lines(user)
    assert shown[0].startswith(f'Run 1: {len(ended)} task')
    assert shown[-1].startswith('Run 1 was interrupted: ') and shown[-1].endswith('Resume goes on with it.')


async def test_a_back_message_that_is_not_one_is_ignored(user: User, sim):
    await user.open('/')
    for args in ({'since': 'yesterday'}, 'garbage', {'since': True}, None):
        UserInteraction(user, {user.client.layout}, None).trigger('taskdemo_back', args)
    await user.should_not_see(marker='digest')
