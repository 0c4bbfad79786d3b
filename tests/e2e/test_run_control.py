"""Issue #7's scenario in a real browser: 100 tasks at most 10 at a time, cancel, start again, retry the failures,
and a timeline with one bar per task (plus one per earlier attempt)."""
from __future__ import annotations

import contextlib
import re

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from .conftest import screenshot, status

RUN_TIMEOUT_MS = 30_000
LINK = '/?tasks=100&concurrency=10&failure_rate=0.3&seed=3'  # at speed 60: tasks of 0.5-2 s, ten at a time

BARS = '''() => {
  const element = document.querySelector('.timeline-chart');
  const chart = element && getElement(element.id.slice(1)).chart;
  if (!chart) return {bars: -1, tasks: 0, earlier: 0};  // made when the panel first opens
  const series = chart.getOption().series;
  const tasks = new Set(series.flatMap((s) => s.data.map((bar) => bar[0])));
  return {bars: series.reduce((n, s) => n + s.data.length, 0), tasks: tasks.size,
          earlier: series.find((s) => s.id === 'earlier').data.length};
}'''


def test_limit_cancel_start_again_retry_the_failures_and_read_the_timeline(browser, start_server):
    board = start_server('--speed', '60')  # a board of its own: these settings stay in force after the test
    context = browser.new_context(viewport={'width': 1280, 'height': 900})
    try:
        page = context.new_page()
        page.goto(board.base + LINK)
        page.get_by_role('button', name='Start with these settings').click()
        expect(page.get_by_role('button', name='Processing...')).to_be_disabled()
        for _ in range(5):
            now = status(board)
            assert now['running'] <= 10, f'{now["running"]} tasks ran at once with concurrency 10'
            page.wait_for_timeout(100)
        assert now['settings']['concurrency'] == 10 and now['pending'] > 0

        page.get_by_role('button', name='Cancel').click()
        page.get_by_role('button', name='Cancel the run').click()
        expect(page.get_by_role('button', name='Start over')).to_be_enabled()
        cancelled = status(board)['cancelled']
        assert cancelled > 0
        expect(page.locator('.task-grid .task-cancelled')).to_have_count(cancelled)

        page.get_by_role('button', name='Start over').click()
        expect(page.get_by_role('button', name='Completed! Start over?')).to_be_enabled(timeout=RUN_TIMEOUT_MS)
        failed = [int(key) for key, entry in status(board)['individual'].items() if entry['status'] == 'failed']
        assert failed, 'seed 3 at a failure rate of 0.3 fails some tasks'
        groups = page.locator('[aria-label="Failures by error"] .failure-count')
        assert sum(int(text) for text in groups.all_inner_texts()) == len(failed)

        page.get_by_role('button', name='Retry failed').click()
        expect(page.get_by_role('button', name='Completed! Start over?')).to_be_enabled(timeout=RUN_TIMEOUT_MS)
        after = status(board)
        assert after['attempts'] == {str(i): 2 for i in failed}
        expect(page.locator('.task-grid .task-attempt')).to_have_count(len(failed))
        page.locator(f'.task-grid [data-task="{failed[0]}"]').focus()
        page.keyboard.press('Enter')
        expect(page.get_by_role('heading', name=re.compile(rf'Task {failed[0]}: (Completed|Failed)'))).to_be_visible()
        expect(page.get_by_text('Attempt 2 (retried 1×)')).to_be_visible()
        page.keyboard.press('Escape')

        page.get_by_role('button', name=re.compile('Timeline')).click()
        with contextlib.suppress(PlaywrightTimeout):  # the assertion below says what was drawn instead
            page.wait_for_function(f'() => ({BARS})().bars === {100 + len(failed)}', timeout=10_000)
        drawn = page.evaluate(BARS)
        assert drawn == {'bars': 100 + len(failed), 'tasks': 100, 'earlier': len(failed)}
        screenshot(page, 'run-control-timeline')
    finally:
        context.close()
