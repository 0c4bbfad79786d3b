"""The board as a visitor sees it, in NiceGUI's simulated browser. Time moves only through `sim.step(dt)`."""
from __future__ import annotations

import re

from nicegui import binding
from nicegui.testing import User

from taskdemo.insight import eta_s
from taskdemo.simulator import RunState, TaskStatus
from taskdemo.ui.grid import TaskGrid
from taskdemo.ui.grid_wire import PROGRESS_BITS
from taskdemo.ui.run_model import RunModel
from taskdemo.ui.states import CODES
from taskdemo.ui.summary import format_duration

from .helpers import finish
from .test_grid_wire import decode


async def test_an_idle_board_shows_the_start_button_zero_progress_and_50_pending_cards(user: User, sim):
    await user.open('/')
    await user.should_see('Task Processing Simulator')
    await user.should_see('Start Process')
    await user.should_see('0% · 0 of 50 finished')
    await user.should_see('Completed: 0')
    await user.should_see('Failed: 0')
    await user.should_see('Pending: 50')
    grid = user.find(TaskGrid).elements.pop()
    assert [entry[:2] for entry in decode(grid.props['snapshot'])] == [(CODES[TaskStatus.PENDING], 0)] * 50
    assert grid.props['small']
    await user.should_not_see(marker='summary')


async def test_start_process_runs_the_tasks_and_the_button_reads_processing_disabled(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    assert sim.state == RunState.RUNNING
    button = user.find(marker='start').elements.pop()
    assert button.text == 'Processing...' and not button.enabled
    await user.should_see('Running: 50')
    sim.step(40)
    assert sim.counts.completed and sim.counts.running, 'this seed finishes some tasks by 40 s, not all'
    await user.should_see(f'Completed: {sim.counts.completed}')
    await user.should_see(f'Running: {sim.counts.running}')
    assert button.text == 'Processing...' and not button.enabled


async def test_status_changes_go_to_every_card_but_percents_only_to_the_cards_on_screen(user: User, sim, grid_calls):
    """What the server sends the grid; what task_grid.js then draws is tested in Chromium (e2e/test_grid.py)."""
    await user.open('/')
    user.find('Start Process').click()
    sim.step(5)
    grid_calls.clear()
    user.find(TaskGrid).trigger('range', {'lo': 0, 'hi': 10})  # the browser shows only the first ten cards
    now = [(i << PROGRESS_BITS) | sim.tasks[i].progress for i in range(10)]
    assert grid_calls == [('apply', ({'e': 5.0, 'p': now, 's': [], 'err': {}},))], 'their percents at once'
    grid_calls.clear()
    sim.step(60)
    counts = sim.counts
    await user.should_see(f'Completed: {counts.completed}')
    await user.should_see(f'Failed: {counts.failed}')
    await user.should_see(f'Running: {counts.running}')
    assert counts.completed and counts.failed, 'this seed finishes some tasks either way by 60 s'
    batches = [args[0] for name, args in grid_calls if name == 'apply']
    assert batches and {name for name, _ in grid_calls} == {'apply'}
    percents = {packed >> PROGRESS_BITS for batch in batches for packed in batch['p']}
    assert percents and percents <= set(range(10)), 'percents only for the cards on screen'
    transitions = {entry[0]: entry[1] for batch in batches for entry in batch['s']}
    ended = {task.id: CODES[task.status] for task in sim.tasks if task.status != TaskStatus.RUNNING}
    assert transitions == ended, 'every status change, for every card'
    await user.should_see(f'{sim.percent:.0f}% · {counts.finished} of 50 finished')


async def test_when_every_task_has_finished_the_board_offers_to_start_over_and_sums_up(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    await user.should_see('Completed! Start over?')
    await user.should_see(marker='summary')
    counts = sim.counts
    rate = round(100 * counts.completed / 50)
    await user.should_see(f'{counts.completed} completed, {counts.failed} failed; success rate {rate}%')
    assert sim.run.finished_s == 119.5, 'seed 7: the slowest task takes just under 2 minutes'
    await user.should_see('Run 1 finished in 2 min 0 s')
    for number, (error, ids) in enumerate(sim.error_groups()):
        await user.should_see(error, marker=f'failure-error-{number}')
        links = user.find(marker=f'failure-tasks-{number}').elements.pop()
        assert [int(i) for i in re.findall(r'data-task="(\d+)"', links.content)] == ids
    assert user.notify.messages == [], 'the summary says it: no notification says it again'


async def test_start_over_begins_a_new_run_from_zero(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    user.find('Completed! Start over?').click()
    assert sim.run.id == 2 and sim.state == RunState.RUNNING
    await user.should_see('0% · 0 of 50 finished')
    await user.should_see('Running: 50')
    await user.should_not_see(marker='summary')
    snapshot = user.find(TaskGrid).elements.pop().props['snapshot']
    assert {entry[0] for entry in decode(snapshot)} == {CODES[TaskStatus.RUNNING]}


async def test_two_tabs_show_the_same_run_and_a_tab_opened_mid_run_shows_it_at_once(user: User, another_user, sim):
    await user.open('/')
    second = another_user()
    await second.open('/')
    user.find('Start Process').click()
    sim.step(45)
    await second.should_see(f'Completed: {sim.counts.completed}')
    await second.should_see('Processing...')
    late = another_user()
    await late.open('/')
    await late.should_see(f'Failed: {sim.counts.failed}')
    await late.should_see(f'{sim.percent:.0f}% · {sim.counts.finished} of 50 finished')
    snapshot = late.find(TaskGrid).elements.pop().props['snapshot']
    assert [entry[:2] for entry in decode(snapshot)] == [(CODES[t.status], t.progress) for t in sim.tasks]


async def test_every_tab_binds_to_the_one_model_of_the_run_which_pushes_rather_than_polls(user: User, another_user,
                                                                                          sim):
    """The progress line, the counters and Start are worked out once per change, however many tabs show them,
    and a binding to a plain attribute would be read ten times a second by NiceGUI instead."""
    await user.open('/')
    second = another_user()
    await second.open('/')
    assert not [link for link in binding.active_links if isinstance(link[0], RunModel)]
    user.find('Start Process').click()
    sim.step(45)
    for tab in (user, second):
        await tab.should_see(f'{sim.percent:.0f}% · {sim.counts.finished} of 50 finished', marker='progress-text')
        await tab.should_see(f'Running: {sim.counts.running}', marker='running-count')
        assert not tab.find(marker='start').elements.pop().enabled
    assert not [link for link in binding.active_links if isinstance(link[0], RunModel)]


async def test_cancel_ends_the_run_and_the_cards_say_cancelled(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    sim.step(40)
    user.find('Cancel').click()
    await user.should_see('Run 1 is still going', marker='confirm-run-question')
    assert sim.active, 'asked first: the run is still going'
    user.find(marker='confirm-run-yes').click()
    await user.should_see('Start over')
    assert sim.state == RunState.CANCELLED
    await user.should_see(f'Cancelled: {sim.counts.cancelled}')
    await user.should_see('Start over')
    await user.should_see('was cancelled')


async def test_a_larger_run_fills_the_width_instead_of_ten_columns(user: User, sim):
    from taskdemo.settings import RunSettings
    sim.start(RunSettings(tasks=200, seed=1))
    await user.open('/')
    grid = user.find(TaskGrid).elements.pop()
    assert not grid.props['small'] and grid.props['snapshot']['n'] == 200


async def test_the_board_tells_elapsed_time_throughput_and_an_eta(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    await user.should_see('Elapsed 0.0 s · measuring · ETA estimating')
    sim.step(20)
    per_minute = 60 * (sim.counts.completed + sim.counts.failed) / 20
    await user.should_see(f'Elapsed 20.0 s · {per_minute:.0f} tasks/min · ETA {format_duration(eta_s(sim))}')
    finish(sim)
    await user.should_see(f'Elapsed {format_duration(sim.run.finished_s)} · ')


async def test_the_tab_title_and_a_polite_live_region_follow_the_run(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    announcer = user.find(marker='announcer').elements.pop()
    assert announcer.props['aria-live'] == 'polite' and announcer.text == '0% of tasks finished'
    sim.step(60)
    decile = int(sim.percent // 10) * 10
    assert announcer.text == f'{decile}% of tasks finished', 'announced at most every 10 points'
    finish(sim)
    assert announcer.text.startswith('Run 1 finished in')


async def test_filter_chips_count_live_and_narrow_the_grid(user: User, sim, grid_calls):
    await user.open('/')
    toggle = user.find(marker='filters').elements.pop()
    assert list(toggle.options.values()) == ['All 50', 'Running 0', 'Completed 0', 'Failed 0', 'Pending 50']
    user.find('Start Process').click()
    sim.step(60)
    counts = sim.counts
    assert toggle.options['completed'] == f'Completed {counts.completed}'
    assert toggle.options['failed'] == f'Failed {counts.failed}'
    assert toggle.options['pending'] == 'Pending 0', 'a chip stays until the run ends: the row does not jump'
    grid_calls.clear()
    toggle.set_value('failed')
    toggle.set_value('all')
    assert grid_calls == [('showOnly', ([CODES[TaskStatus.FAILED]],)), ('showOnly', ([],))]
