"""Run control and insight on the board, in NiceGUI's simulated browser: Retry failed, failures grouped by error
with Retry these, a task's details, and the timeline."""
from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from taskdemo.simulator import Simulator, TaskStatus
from taskdemo.ui.grid import TaskGrid

from .helpers import finish


@pytest.fixture
def sim(make_sim) -> Simulator:
    """20 tasks, half of which fail: the `user` fixture shows this simulator."""
    return make_sim(tasks=20, failure_rate=0.5, seed=4)


async def test_retry_failed_runs_only_the_failed_tasks_again_and_cards_show_the_attempt(user: User, sim,
                                                                                        grid_calls):
    await user.open('/')
    await user.should_not_see('Retry failed')
    user.find('Start Process').click()
    finish(sim)
    failed = sim.failed_tasks()
    await user.should_see('Retry failed')
    grid_calls.clear()
    user.find('Retry failed').click()
    await user.should_see(f'Retrying {len(failed)} failed tasks')
    assert sim.active and sim.counts.failed == 0
    assert [task.id for task in sim.tasks if task.attempt == 2] == failed
    sent = [args[0] for name, args in grid_calls if name == 'apply']
    assert {int(key): value[0] for batch in sent for key, value in batch['att'].items()} == dict.fromkeys(failed, 2)
    assert [entry[0] for entry in sent[0]['s']] == failed, 'the retried cards change state, no other'
    assert sent[0]['err'] == dict.fromkeys(map(str, failed)), 'the old errors leave the cards'
    await user.should_not_see('Retry failed')


async def test_failures_are_grouped_by_error_with_counts_and_retry_these_retries_one_group(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    groups = sim.error_groups()
    assert len(groups) > 1
    for number, (error, ids) in enumerate(groups):
        await user.should_see(error, marker=f'failure-error-{number}')
        await user.should_see(str(len(ids)), marker=f'failure-group-{number}')
    error, ids = groups[1]
    user.find(marker='retry-group-1').click()
    assert [task.id for task in sim.tasks if task.attempt == 2] == ids
    assert sim.counts.failed == sum(len(group) for _, group in groups) - len(ids)


async def test_a_click_on_a_card_opens_its_details_which_follow_the_task_live(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)
    task = sim.tasks[sim.failed_tasks()[0]]
    first_error, first_progress = task.error, task.progress
    user.find(TaskGrid).trigger('open', {'id': task.id})
    await user.should_see(f'Task {task.id}: Failed', marker='details-heading')
    await user.should_see(f'Error: {first_error}')
    user.find('Retry failed').click()
    sim.step(1)
    await user.should_see(f'Task {task.id}: Running', marker='details-heading')
    await user.should_see('Attempt 2 (retried 1×)')
    rows = user.find(marker='details-history').elements.pop().rows
    assert [row['attempt'] for row in rows] == ['1', '2']
    assert rows[0]['outcome'] == f'Failed: {first_error}' and rows[0]['progress'] == f'{first_progress}%'
    assert rows[1]['outcome'] == 'Running' and rows[1]['duration'] == '1.0 s so far'
    assert rows[1]['started'] == f'at {task.started_s:.1f} s', 'seconds since the run started, as on the timeline'
    user.find(TaskGrid).trigger('open', {'id': 999})  # no such task: nothing changes, nothing breaks
    await user.should_see(f'Task {task.id}: Running', marker='details-heading')


async def test_the_timeline_has_one_bar_per_started_attempt_coloured_by_outcome(user: User, sim, monkeypatch):
    sent: list[dict] = []
    monkeypatch.setattr(ui.echart, 'run_chart_method', lambda _chart, name, patch: sent.append(patch))
    await user.open('/')
    user.find('Start Process').click()
    sim.step(30)
    await user.should_not_see(marker='timeline')  # ECharts is loaded only when the panel first opens
    panel = user.find(marker='timeline-panel').elements.pop()
    panel.value = True  # opening the panel draws at once (and then every second while it is open)
    chart = user.find(marker='timeline').elements.pop()
    drawn = {series['id']: series['data'] for series in chart.options['series']}
    assert sorted(bar[0] for series in drawn.values() for bar in series) == list(range(20)), 'a bar per task'
    running = [task.id for task in sim.tasks if task.status == TaskStatus.RUNNING]
    assert running and [bar[0] for bar in drawn['in_progress']] == running
    assert all(bar[2] == 30 for bar in drawn['in_progress']), 'a running bar reaches now'
    assert sent == []
    finish(sim)
    sim.retry()
    sim.step(1)
    panel.value = False
    panel.value = True
    drawn = {series['id']: series['data'] for series in sent[-1]['series']}  # only the bars travel, by series id
    retried = [task.id for task in sim.tasks if task.attempt == 2]
    assert sorted(bar[0] for bar in drawn['earlier']) == retried
    assert len([bar for series in drawn.values() for bar in series]) == 20 + len(retried)
    assert all('dataZoom' not in patch for patch in sent), 'the zoom a viewer chose stays while the run goes on'
