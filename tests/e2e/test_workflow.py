"""The seed's workflow and many tabs, in a real browser."""
from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from .conftest import status, use_settings

RUN_TIMEOUT_MS = 20_000


def test_the_whole_seed_workflow(open_page, board):
    page = open_page()
    page.get_by_role('button', name='Start Process').click()
    run_id = status(board)['run_id']
    processing = page.get_by_role('button', name='Processing...')
    expect(processing).to_be_visible()
    expect(processing).to_be_disabled()
    expect(page.get_by_text(re.compile(r'^[1-9]\d*% · \d+ of 50 finished$'))).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.locator('.task-card .task-pct').filter(has_text=re.compile(r'^[1-9]\d?%$')).first).to_be_visible()

    start_over = page.get_by_role('button', name='Completed! Start over?')
    expect(start_over).to_be_enabled(timeout=RUN_TIMEOUT_MS)
    cards = page.locator('.task-grid .task-card')
    expect(cards).to_have_count(50)
    completed = page.locator('.task-grid .task-completed').count()
    failed = page.locator('.task-grid .task-failed').count()
    assert completed + failed == 50
    expect(page.get_by_text(f'Completed: {completed}', exact=True)).to_be_visible()
    expect(page.get_by_text(f'Failed: {failed}', exact=True)).to_be_visible()
    expect(page.get_by_text('100% · 50 of 50 finished')).to_be_visible()
    summary = re.compile(rf'^Run {run_id} finished in .* success rate \d+%\.$')
    expect(page.locator('.q-card').get_by_text(summary)).to_be_visible()
    expect(page.get_by_role('status')).to_have_text(summary)  # the polite live region, for screen readers
    expect(page.get_by_text(f'{completed} completed, {failed} failed', exact=True)).to_be_visible()  # by the button
    expect(page.locator('#q-notify .q-notification')).to_have_count(0)  # the summary is in view: no toast repeats it

    start_over.click()
    expect(page.get_by_role('button', name='Processing...')).to_be_disabled()
    expect(page.get_by_text('Running: 50', exact=True)).to_be_visible()
    expect(page.get_by_text('0% · 0 of 50 finished')).to_be_visible()
    assert status(board)['run_id'] == run_id + 1


def test_two_tabs_share_the_run_and_a_late_tab_sees_it_at_once(open_page, board):
    use_settings(board, max_duration=600)  # tasks of 1-20 s: the run is still going when the late tab opens
    first, second = open_page(), open_page()
    first.get_by_role('button', name='Start Process').click()
    expect(second.get_by_role('button', name='Processing...')).to_be_disabled()
    expect(second.get_by_text(re.compile(r'^Completed: [1-9]'))).to_be_visible(timeout=RUN_TIMEOUT_MS)

    late = open_page()
    seen = int(late.get_by_text(re.compile(r'^Completed: \d+$')).inner_text().split(': ')[1])
    assert seen >= 1, 'a tab opened mid-run shows the run as it is, not an empty board'
    expect(late.get_by_role('button', name='Processing...')).to_be_disabled()
    expect(late.locator('.task-grid .task-card')).to_have_count(50)


def test_a_run_started_through_the_api_shows_in_the_browser(open_page, board):
    page = open_page()
    assert httpx.post(f'{board.base}/start', json={'tasks': 12}).status_code == 200
    expect(page.locator('.task-grid .task-card')).to_have_count(12)
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=RUN_TIMEOUT_MS)


def test_a_running_cards_tooltip_tells_its_state_time_and_eta(open_page, board):
    page = open_page()
    page.get_by_role('button', name='Start Process').click()
    tip = page.locator('.q-tooltip.task-tip')
    running = re.compile(r'^Task \d+: Running · [1-9]\d?%\n\d+\.\d s so far · ETA \d+ s$')
    for _ in range(20):  # a card that is still running when hovered (under load a task may end first)
        card = page.locator('.task-card.task-in_progress').filter(has_text=re.compile(r'[1-9]\d?%$')).first
        card.hover()  # one shared Quasar tooltip, on the hovered (or focused) card
        expect(tip).to_be_visible()
        if running.match(tip.inner_text()):
            break
        page.mouse.move(0, 0)
    else:
        raise AssertionError(f'no running card had a tooltip like {running.pattern}: {tip.inner_text()!r}')
    expect(page).to_have_title(re.compile(r'^\[\d+%\] Task Processing Simulator$'))
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page).to_have_title(re.compile(r'^\[completed: \d+ ok, \d+ failed\] Task Processing Simulator$'))
    failed = page.locator('.task-card.task-failed').first
    for _ in range(5):  # the hover scrolls the card into view, and the sticky header turning compact may move it away
        page.mouse.move(0, 0)
        failed.hover()
        if tip.is_visible():
            break
        page.wait_for_timeout(200)  # the page settling after the scroll; no state of ours to wait on
    expect(tip).to_have_text(re.compile(r'^Task \d+: Failed · \d+%\ntook \d+\.\d s\nSimulated failure'))
    named = re.compile(r'^Task \d+: Failed · \d+% · took .* · Simulated failure')
    expect(failed).to_have_attribute('aria-label', named)  # screen readers hear it all without the tooltip


def test_the_failed_filter_shows_only_failed_cards(open_page, board):
    page = open_page()
    page.get_by_role('button', name='Start Process').click()
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=RUN_TIMEOUT_MS)
    failed = status(board)['failed']
    page.get_by_role('button', name=f'Failed {failed}').click()
    cards = page.locator('.task-grid .task-card')
    expect(cards).to_have_count(failed)
    assert cards.evaluate_all('cards => cards.every(card => card.classList.contains("task-failed"))')
    page.get_by_role('button', name='All 50').click()
    expect(cards).to_have_count(50)
