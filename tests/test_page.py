"""The board as a visitor sees it, in NiceGUI's simulated browser. Time moves only through `sim.step(dt)`."""
from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from taskdemo.simulator import RunState, TaskStatus

from .helpers import finish


def card(user: User, task_id: int) -> ui.html:
    return user.find(marker=f'task-{task_id}').elements.pop()


async def test_an_idle_board_shows_the_start_button_zero_progress_and_50_pending_cards(user: User, sim):
    await user.open('/')
    await user.should_see('Task Processing Simulator')
    await user.should_see('Start Process')
    await user.should_see('0% · 0 of 50 finished')
    await user.should_see('Completed: 0')
    await user.should_see('Failed: 0')
    await user.should_see('Pending: 50')
    cards = [card(user, i) for i in range(50)]
    assert all('Pending' in c.content and 'task-pending' in c.classes for c in cards)
    await user.should_not_see(marker='task-50')
    await user.should_not_see(marker='summary')


async def test_start_process_runs_the_tasks_and_the_button_reads_processing_disabled(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    assert sim.state == RunState.RUNNING
    button = user.find(marker='start').elements.pop()
    assert button.text == 'Processing...' and not button.enabled
    await user.should_see('Running: 50')
    sim.step(20)
    running = next(task for task in sim.tasks if task.status == TaskStatus.RUNNING)
    view = card(user, running.id)
    assert f'{running.progress}%' in view.content and 'Running' in view.content
    assert 'task-in_progress' in view.classes
    assert view.props['title'].startswith(f'Task {running.id}: Running · {running.progress}%')


async def test_cards_turn_green_or_red_with_word_and_icon_and_counters_follow(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    sim.step(60)
    counts = sim.counts
    await user.should_see(f'Completed: {counts.completed}')
    await user.should_see(f'Failed: {counts.failed}')
    await user.should_see(f'Running: {counts.running}')
    for task in sim.tasks:
        view = card(user, task.id)
        if task.status == TaskStatus.COMPLETED:
            assert 'task-completed' in view.classes and '✔' in view.content and 'Completed' in view.content
        elif task.status == TaskStatus.FAILED:
            assert 'task-failed' in view.classes and '✖' in view.content and 'Failed' in view.content
            assert task.error in view.props['title']
    assert counts.completed and counts.failed, 'this seed finishes some tasks either way by 60 s'
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
    for task in sim.tasks:
        if task.status == TaskStatus.FAILED:
            await user.should_see(f'Task {task.id}: {task.error}')
    await user.should_see('Run 1 finished', kind=ui.notification)


async def test_start_over_begins_a_new_run_from_zero(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    user.find('Completed! Start over?').click()
    assert sim.run.id == 2 and sim.state == RunState.RUNNING
    await user.should_see('0% · 0 of 50 finished')
    await user.should_see('Running: 50')
    await user.should_not_see(marker='summary')
    assert all('Running' in card(user, i).content for i in range(50))


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
    some = next(task for task in sim.tasks if task.status == TaskStatus.RUNNING)
    assert f'{some.progress}%' in card(late, some.id).content


async def test_cancel_ends_the_run_and_the_cards_say_cancelled(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    sim.step(40)
    user.find('Cancel').click()
    assert sim.state == RunState.CANCELLED
    await user.should_see(f'Cancelled: {sim.counts.cancelled}')
    await user.should_see('Start over')
    cancelled = next(task for task in sim.tasks if task.status == TaskStatus.CANCELLED)
    assert 'Cancelled' in card(user, cancelled.id).content
    await user.should_see('was cancelled')


async def test_a_larger_run_fills_the_width_instead_of_ten_columns(user: User, sim):
    from taskdemo.settings import RunSettings
    sim.start(RunSettings(tasks=200, seed=1))
    await user.open('/')
    grid = user.find(marker='task-grid').elements.pop()
    assert 'grid-large' in grid.classes and 'w-full' in grid.classes
    await user.should_see(marker='task-199')
