"""One task from its details dialog, in Chromium and from the keyboard: Tab to Cancel this task, back out with
Escape, cancel it after the question (the card says cancelled, the run goes on), then Retry this task; and a stall as
the dialog tells it and the timeline draws it (hatched, named in the legend)."""
from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from taskdemo.model import plan_tasks, stall_after_s
from taskdemo.settings import RunSettings

from .conftest import E2E_SETTINGS, screenshot, status, use_settings
from .test_grid_keyboard import FOCUSED, _tab_into_grid

RUN_TIMEOUT_MS = 30_000
# the label of the focused button (without its icon's ligature)
ACTIVE_TEXT = "() => document.activeElement?.closest('button')?.querySelector('.block')?.textContent.trim() ?? ''"
CHART = '''() => { const element = document.querySelector('.timeline-chart');
  const chart = element && getElement(element.id.slice(1)).chart;
  if (!chart) return null;
  const option = chart.getOption();
  return {legend: option.legend[0].data, stalls: option.series.find((s) => s.id === 'stalled').data.length}; }'''


def test_cancel_one_running_task_from_its_dialog_by_keyboard_then_retry_it(open_page, board):
    use_settings(board, max_duration=600)  # tasks of 1-20 s
    plan = plan_tasks(RunSettings(**{**E2E_SETTINGS, 'max_duration': 600}), 11)
    task = max(plan[:10], key=lambda planned: planned.duration if planned.fail_at is None else 0).id  # a long one
    page = open_page()
    page.get_by_role('button', name='Start Process').click()
    _tab_into_grid(page)
    for _ in range(task):
        page.keyboard.press('ArrowRight')
    assert page.evaluate(FOCUSED) == task
    page.keyboard.press('Enter')
    dialog = page.get_by_role('dialog').filter(has=page.get_by_role('heading', name=re.compile(rf'Task {task}: ')))
    expect(dialog.get_by_role('heading', name=f'◐ Task {task}: Running')).to_be_visible()
    _tab_to(page, 'Cancel this task')
    page.keyboard.press('Enter')
    question = page.get_by_role('dialog').filter(has_text=f'Cancel task {task}?')
    expect(question).to_be_visible()
    assert page.evaluate(ACTIVE_TEXT) == 'Keep it', 'the safe answer has the focus'
    screenshot(page, 'task-actions-confirm', full_page=False)
    page.keyboard.press('Escape')  # backs out of the question only
    expect(question).to_be_hidden()
    expect(dialog).to_be_visible()
    assert status(board)['individual'][str(task)]['status'] == 'in_progress', 'Escape changed nothing'
    page.wait_for_function(f'() => ({ACTIVE_TEXT})() === "Cancel this task"')

    page.keyboard.press('Enter')
    expect(question).to_be_visible()
    _tab_to(page, 'Cancel task')
    before = status(board)['individual']
    page.keyboard.press('Enter')
    expect(dialog.get_by_role('heading', name=f'⊘ Task {task}: Cancelled')).to_be_visible()
    expect(page.locator(f'.task-grid .task-card[data-task="{task}"]')).to_have_class(re.compile(r'\btask-cancelled\b'))
    now = status(board)
    assert now['state'] == 'running' and now['cancelled'] == 1, 'the run goes on, one task cancelled'
    others = [key for key, entry in before.items() if key != str(task) and entry['status'] == 'in_progress']
    assert all(now['individual'][key]['status'] != 'cancelled' for key in others), 'only that task was cancelled'
    page.wait_for_function(f'() => ({ACTIVE_TEXT})() === "Retry this task"')  # the next action, not the page body
    screenshot(page, 'task-actions-cancelled', full_page=False)

    page.keyboard.press('Enter')
    expect(dialog.get_by_role('heading', name=re.compile(rf'^. Task {task}: (Running|Pending|Completed)$'))) \
        .to_be_visible()
    expect(dialog).to_contain_text('Attempt 2 (retried 1×)')
    expect(page.locator(f'.task-grid .task-card[data-task="{task}"]')).not_to_have_class(
        re.compile(r'\btask-cancelled\b'))


def test_a_stall_in_the_dialog_and_hatched_on_the_timeline(browser, start_server):
    settings = {'tasks': 30, 'failure_rate': 0.2, 'min_duration': 30, 'max_duration': 120, 'speed': 10,
                'stall_rate': 0.3, 'task_timeout': 90, 'seed': 3, 'concurrency': 0}
    plan = plan_tasks(RunSettings(**settings), 3)
    hung = next(task for task in plan if task.stall_at is not None and task.stall_for is None
                and task.stall_at / 100 * task.duration + stall_after_s(task.duration) < 60)  # flagged well in time
    server = start_server('--seed', '3')
    context = browser.new_context(viewport={'width': 1280, 'height': 900})
    try:
        page = context.new_page()
        page.goto(server.base)
        page.locator('.task-grid .task-card').first.wait_for()
        assert httpx.post(f'{server.base}/start', json=settings).status_code == 200
        page.locator(f'.task-grid .task-card[data-task="{hung.id}"]').click()
        facts = page.get_by_role('dialog').locator('.whitespace-pre-line')
        expect(facts).to_contain_text(re.compile(r'⚠ Stalled: no progress for \d+ s'), timeout=RUN_TIMEOUT_MS)
        assert not re.search(r'\b(hang|hangs|will)\b', facts.inner_text()), 'nothing of the plan shows'
        screenshot(page, 'task-details-stalled', full_page=False)
        expect(facts).to_contain_text('Error: timed out after 90 s', timeout=RUN_TIMEOUT_MS)
        page.keyboard.press('Escape')
        expect(page.locator('.q-dialog')).to_have_count(0)  # gone, its backdrop too, before the next click
        expect(page.get_by_role('button', name='Completed! Start over?')).to_be_enabled(timeout=RUN_TIMEOUT_MS)
        page.get_by_role('button', name='Timeline').click()
        page.wait_for_function(f'() => ({CHART})()?.stalls > 0')
        drawn = page.evaluate(CHART)
        assert drawn['legend'][-1] == 'Stalled', drawn
        # to the page's end, past the 64 px over which the header gets compact: a scroll within them (as
        # scroll_into_view_if_needed leaves it here) makes the header and the browser's scroll anchoring take turns
        page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)')
        chart = page.locator('.timeline-chart')
        expect(chart).to_be_in_viewport()
        chart.screenshot(path=screenshot(page, 'timeline-stalls', full_page=False))  # docs/timeline-stalls.png
    finally:
        context.close()


def _tab_to(page, name: str, most: int = 12) -> None:
    for _ in range(most):
        page.keyboard.press('Tab')
        if page.evaluate(ACTIVE_TEXT) == name:
            return
    raise AssertionError(f'Tab never reached {name!r}')
