"""The panels and dialogs in NiceGUI's simulated browser: the timeline's legend and rows, a task's times as on the
timeline, and a past run's dialog in words."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nicegui import ui
from nicegui.testing import User

from taskdemo.settings import Settings
from taskdemo.simulator import Simulator, TaskStatus
from taskdemo.store import RunRow
from taskdemo.ui.details import clock_time
from taskdemo.ui.grid import TaskGrid
from taskdemo.ui.history import outcome_text, settings_text
from taskdemo.ui.summary import format_duration
from taskdemo.ui.timeline import rows_text

from .helpers import finish
from .test_app import whole_app
from .test_board_css import contrast


def open_timeline(user: User) -> ui.echart:
    user.find(marker='timeline-panel').elements.pop().value = True  # a simulated click does not unfold it
    return user.find(marker='timeline').elements.pop()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """What the server sends the chart after its first draw (the patches of `setOption`)."""
    patches: list[dict] = []
    monkeypatch.setattr(ui.echart, 'run_chart_method', lambda _chart, _name, patch: patches.append(patch))
    return patches


@pytest.mark.parametrize('sim', [{'tasks': 20, 'failure_rate': 0.5, 'seed': 4}], indirect=True)
async def test_the_legend_names_only_the_outcomes_the_chart_has_bars_of(user: User, sim, sent):
    await user.open('/')
    user.find('Start Process').click()
    sim.step(1)
    chart = open_timeline(user)
    assert chart.options['legend']['data'] == ['Running']
    finish(sim)
    user.find(marker='timeline-panel').elements.pop().value = False
    user.find(marker='timeline-panel').elements.pop().value = True
    assert sent[-1]['legend'] == {'data': ['Completed', 'Failed']}, 'no Running left, no Interrupted ever'
    sim.retry()
    sim.step(1)
    user.find(marker='timeline-panel').elements.pop().value = False
    user.find(marker='timeline-panel').elements.pop().value = True
    assert sent[-1]['legend'] == {'data': ['Running', 'Completed', 'Failed earlier attempt']}
    assert chart.options['legend']['data'] == ['Running', 'Completed', 'Failed earlier attempt'], 'for a page redrawn'


@pytest.mark.parametrize('sim', [{'tasks': 1000, 'seed': 4}], indirect=True)
async def test_with_more_rows_than_shown_the_timeline_says_which_and_follows_the_zoom(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    sim.step(1)
    open_timeline(user)
    await user.should_see('rows 1-60 of 1,000', marker='timeline-rows')
    user.find(marker='timeline').trigger('chart:datazoom', [10, 16])  # percent of the axis, -0.5 to 999.5
    await user.should_see('rows 101-160 of 1,000', marker='timeline-rows')
    user.find(marker='timeline').trigger('chart:datazoom', [0, 100])
    await user.should_see('all 1,000 rows', marker='timeline-rows')


def test_the_rows_text_counts_a_row_when_its_middle_shows():
    assert rows_text(-0.5, 59.5, 1000) == 'rows 1-60 of 1,000'
    assert rows_text(9.3, 20.2, 1000) == 'rows 11-21 of 1,000'
    assert rows_text(4.6, 5.4, 1000) == 'row 6 of 1,000'
    assert rows_text(-0.5, 19.5, 20) == 'all 20 rows'


@pytest.fixture
def sim(request: pytest.FixtureRequest, make_sim) -> Simulator:
    return make_sim(**getattr(request, 'param', {'tasks': 4, 'concurrency': 1, 'seed': 2}))


async def test_a_tasks_details_use_the_timelines_time_base_with_the_clock_time_below(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    while sim.tasks[1].status != TaskStatus.RUNNING:  # one at a time: task 1 starts when task 0 ends
        sim.step(0.5)
    first = sim.tasks[0]
    user.find(TaskGrid).trigger('open', {'id': 1})
    await user.should_see('Task 1: Running', marker='details-heading')
    started_at = sim.run.started_at
    rows = user.find(marker='details-history').elements.pop().rows
    assert rows[0]['started'] == f'at {sim.tasks[1].started_s:.1f} s' and rows[0]['started'] != 'at 0.0 s'
    assert rows[0]['started_clock'] == clock_time(started_at, sim.tasks[1].started_s)
    assert rows[0]['ended'] == '-' and rows[0]['ended_clock'] == ''
    user.find(TaskGrid).trigger('open', {'id': 0})
    await user.should_see('Task 0: ', marker='details-heading')
    rows = user.find(marker='details-history').elements.pop().rows
    assert rows[0]['started'] == 'at 0.0 s' and rows[0]['ended'] == f'at {first.finished_s:.1f} s'


@pytest.mark.parametrize('sim', [{'tasks': 1500, 'seed': 4}], indirect=True)
async def test_task_numbers_in_the_details_have_thousands_separators(user: User, sim):
    await user.open('/')
    user.find('Start Process').click()
    sim.step(1)
    user.find(TaskGrid).trigger('open', {'id': 1234})
    await user.should_see('Task 1,234: Running', marker='details-heading')


@pytest.fixture
async def stored_user(sim: Simulator, tmp_path) -> AsyncIterator[User]:
    async with whole_app(sim, Settings(data_dir=tmp_path)) as user:
        yield user


@pytest.mark.parametrize('sim', [{'tasks': 50, 'failure_rate': 0.3, 'seed': 4}], indirect=True)
async def test_a_past_runs_dialog_says_how_it_ended_in_words_and_closes_with_its_cross(stored_user: User, sim):
    await stored_user.open('/')
    stored_user.find('Start Process').click()
    finish(sim)
    counts = sim.counts
    stored_user.find(marker='history-table').trigger('open', 1)
    await stored_user.should_see(f'Completed in {format_duration(sim.run.finished_s)}: {counts.completed} completed, '
                                 f'{counts.failed} failed', marker='run-outcome')
    await stored_user.should_not_see('cancelled', marker='run-outcome')
    await stored_user.should_see('50 tasks, 30 % failing, 30-120 s, ×1, seed 4', marker='run-settings')
    dialog = stored_user.find(marker='run-dialog').elements.pop().parent_slot.parent
    assert dialog.value
    stored_user.find(marker='run-close').click()
    assert not dialog.value


def test_a_runs_settings_and_outcome_read_as_words_with_thousands_separators():
    settings = {'tasks': 1000, 'failure_rate': 0.2, 'min_duration': 30, 'max_duration': 1200, 'speed': 2,
                'concurrency': 10}
    assert settings_text(settings, 7) == '1,000 tasks, 20 % failing, 30-1,200 s, ×2, 10 at a time, seed 7'
    row = RunRow(id=3, started_at=0, settings=settings, seed=7, state='cancelled', elapsed_s=65.2, finished_s=65,
                 total=1000, completed=1200, failed=15, cancelled=3)
    assert outcome_text(row) == 'Cancelled after 1 min 5 s: 1,200 completed, 15 failed, 3 cancelled'


@pytest.mark.parametrize('scheme', ['', 'body.body--dark '])
def test_a_disabled_button_keeps_its_text_at_aa_contrast(scheme):
    from taskdemo.ui.page import CSS
    block = CSS[CSS.index('@layer overrides {', CSS.index('---- history, timeline, task details')):]
    selector = f'{scheme}.q-btn.disabled:not(.q-btn--flat):not(.q-btn--outline) {{'
    rule = block[block.index(selector):block.index('}', block.index(selector))]
    background = rule.split('background: ')[1][:7]
    colour = rule.split('color: ')[1][:7]
    assert contrast(background, colour) >= 4.5
    assert '.q-btn.disabled, .q-btn[disabled] { opacity: 1 !important; }' in block
