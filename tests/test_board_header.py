"""The header and what sits around the grid, in NiceGUI's simulated browser: the two-part bar, the outcome beside
the button, the summary that stays through a retry, failure groups whose ids open details, filter chips that do
not jump, and notifications only for what happened elsewhere. Time moves only through `sim.step(dt)`."""
from __future__ import annotations

import re

import pytest
from nicegui.testing import User

from taskdemo import insight
from taskdemo.control import LocalCommands
from taskdemo.driver import Driver
from taskdemo.settings import RunSettings
from taskdemo.simulator import Simulator
from taskdemo.ui import summary as summary_module
from taskdemo.ui.grid import TaskGrid
from taskdemo.ui.summary import format_duration

from .helpers import FakeClock, finish


@pytest.fixture
def sim(make_sim) -> Simulator:
    """40 tasks, half of which fail: the `user` fixture shows this simulator."""
    return make_sim(tasks=40, failure_rate=0.5, seed=4)


def place(user: User, part: str) -> tuple[float, float]:
    """Where a part of the bar starts and how much of it it covers, in percent, from its transform."""
    element = user.find(marker='progress-bar').elements.pop()
    bar = next(child for child in element.default_slot.children if f'run-bar-{part}' in child.classes)
    start, scale = re.fullmatch(r'translateX\(([\d.]+)%\) scaleX\(([\d.]+)\)', bar.style['transform']).groups()
    return float(start), 100 * float(scale)


async def test_the_bar_shows_completed_and_failed_as_two_parts_with_words_for_screen_readers(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    counts = sim.counts
    assert counts.completed and counts.failed
    completed, failed = 100 * counts.completed / 40, 100 * counts.failed / 40
    assert place(user, 'completed') == pytest.approx((0, completed))
    assert place(user, 'failed') == pytest.approx((completed, failed)), 'red starts where green ends'
    bar = user.find(marker='progress-bar').elements.pop()
    assert bar.props['role'] == 'progressbar' and bar.props['aria-valuenow'] == '100'
    assert bar.props['aria-valuetext'] == (f'{100 * counts.completed / 40:.0f}% completed, '
                                           f'{100 * counts.failed / 40:.0f}% failed')


async def test_the_outcome_stands_beside_the_seeds_button_and_no_notification_repeats_it(user: User, sim):
    await user.open('/')
    await user.should_see(marker='next-run')
    user.find('Start Process').click()
    finish(sim)
    await user.should_see('Completed! Start over?')
    counts = sim.counts
    await user.should_see(f'{counts.completed} completed, {counts.failed} failed', marker='outcome')
    assert user.notify.messages == []


async def test_a_run_cancelled_elsewhere_is_notified_but_not_one_cancelled_here(user: User, sim):
    """NiceGUI's simulated users share one `ui.notify` (the last user touched gets it), so the other tab is the
    API here."""
    await user.open('/')
    user.find('Start Process').click()
    sim.step(30)
    user.find('Cancel').click()
    user.find(marker='confirm-run-yes').click()
    await user.should_see('Start over')
    assert user.notify.messages == [], 'cancelled here: this page knows'
    user.find('Start over').click()
    sim.step(30)
    await LocalCommands(sim).by('api:127.0.0.1').cancel()
    await user.should_see('Run 2 cancelled by API from 127.0.0.1')
    assert [message.split('.')[0] for message in user.notify.messages] == ['Run 2 cancelled by API from 127']


async def test_the_summary_sits_above_the_grid_and_stays_while_the_failures_are_retried(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    before = f'{sim.counts.completed} completed, {sim.counts.failed} failed'
    summary = user.find(marker='summary').elements.pop()
    grid = user.find(TaskGrid).elements.pop()
    column = summary.parent_slot.children
    assert column.index(summary) < column.index(grid), 'the summary comes before the grid'
    user.find('Retry failed').click()
    assert sim.active
    await user.should_see('Retry under way', marker='summary')
    await user.should_see(before, marker='summary-line')
    assert not user.find(marker='retry-group-0').elements.pop().enabled, 'nothing to retry while it runs'
    finish(sim)
    await user.should_not_see('Retry under way')
    await user.should_see(f'{sim.counts.completed} completed, {sim.counts.failed} failed', marker='summary-line')


async def test_task_ids_in_a_failure_group_open_the_tasks_details_and_more_lists_the_rest(user: User, sim,
                                                                                          monkeypatch):
    monkeypatch.setattr(summary_module, 'IDS_SHOWN', 3)
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    (_, ids), *_ = sim.error_groups()
    assert len(ids) > 3
    links = user.find(marker='failure-tasks-0').elements.pop()
    assert links.content.count('data-task=') == 3 and f'and {len(ids) - 3} more' in links.content
    user.find(marker='failure-tasks-0').trigger('click', 'more')
    links = user.find(marker='failure-tasks-0').elements.pop()
    assert links.content.count('data-task=') == len(ids) and 'more' not in links.content
    user.find(marker='failure-tasks-0').trigger('click', ids[-1])
    await user.should_see(f'Task {ids[-1]}: Failed', marker='details-heading')


async def test_a_chip_stays_at_zero_until_the_run_ends_and_an_empty_filter_says_so(user: User, sim):
    await user.open('/')
    toggle = user.find(marker='filters').elements.pop()
    user.find('Start Process').click()
    sim.step(5)
    toggle.set_value('completed')
    await user.should_see('No completed tasks', marker='filter-empty')
    finish(sim)
    await user.should_not_see(marker='filter-empty')
    assert toggle.options['in_progress'] == 'Running 0', 'an always-chip'
    sim.start(RunSettings(tasks=40, failure_rate=0.5, seed=4, concurrency=5))
    assert toggle.options['pending'] == 'Pending 35'
    finish(sim)
    assert 'pending' not in toggle.options, 'kept during the run, gone once it ended at 0'


async def test_a_chip_at_zero_during_a_run_is_kept(user: User, sim):
    await user.open('/')
    toggle = user.find(marker='filters').elements.pop()
    sim.start(RunSettings(tasks=40, failure_rate=0.5, seed=4, concurrency=30))
    assert toggle.options['pending'] == 'Pending 10'
    while sim.counts.pending:
        sim.step(1)
    assert sim.active and toggle.options['pending'] == 'Pending 0', 'the chip stays while the run goes on'


async def test_numbers_have_thousands_separators(user: User, sim):
    sim.start(RunSettings(tasks=2000, seed=3, min_duration=1, max_duration=2, failure_rate=0))
    await user.open('/')
    await user.should_see('0% · 0 of 2,000 finished')
    await user.should_see('Running: 2,000')
    toggle = user.find(marker='filters').elements.pop()
    assert toggle.options['all'] == 'All 2,000'
    finish(sim)
    await user.should_see('Completed: 2,000')
    rate = insight.throughput_per_min(sim)
    assert rate > 1000
    await user.should_see(f'{rate:,.0f} tasks/min', marker='pace')


async def test_a_retried_run_counts_its_active_time_not_the_idle_time_before_the_retry(sim):
    """The driver counts a run's time only while it runs: an hour between the end and a retry is not in it."""
    clock = FakeClock(now=0)
    retried = False

    class Stop(Exception):
        pass

    async def sleep(seconds: float) -> None:
        nonlocal retried
        if sim.active:
            clock.advance(seconds)
        elif not retried:
            first_run_s = sim.run.finished_s
            clock.advance(3600)  # an hour idle, then the retry
            sim.retry()
            retried = True
            assert sim.run.elapsed_s == first_run_s
        else:
            raise Stop

    sim.start()
    with pytest.raises(Stop):
        await Driver(sim, clock=clock, sleep=sleep, interval=0.5).run()
    attempts = [a for task in sim.tasks for a in task.earlier]
    assert attempts, 'some tasks were retried'
    assert sim.run.finished_s < 3600, f'the run took {format_duration(sim.run.finished_s)} of active time'
