"""The outcome stays in view, in Chromium: the header follows the grid down a 1,000-task run, the summary sits above
the grid, starting a run moves nothing, focus goes to Cancel after Start, every control shows a focus ring, and the
skip link reaches the tasks."""
from __future__ import annotations

import httpx
from playwright.sync_api import expect

from .conftest import screenshot, use_settings

GRID_TOP = "() => document.querySelector('.task-grid').getBoundingClientRect().top + window.scrollY"
OUTLINE = """() => { const style = getComputedStyle(document.activeElement);
  return {style: style.outlineStyle, width: parseFloat(style.outlineWidth)}; }"""


def test_the_header_stays_in_view_to_the_end_of_a_thousand_tasks_and_the_summary_above_the_grid(browser, start_server):
    server = start_server('--tasks', '1000', '--speed', '5', '--seed', '5', '--failure-rate', '0.2')
    assert httpx.post(f'{server.base}/start').status_code == 200
    page = browser.new_page(viewport={'width': 1280, 'height': 800})
    try:
        page.goto(server.base)
        page.locator('.task-grid .task-card').first.wait_for()
        page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)')
        expect(page.locator('.task-card[data-task="999"]')).to_be_in_viewport()
        expect(page.get_by_role('progressbar')).to_be_in_viewport()
        expect(page.get_by_role('button', name='Cancel', exact=True)).to_be_in_viewport()
        expect(page.get_by_text('ETA')).to_be_in_viewport()
        screenshot(page, 'header-sticky-1000', full_page=False)  # the window as scrolled: the header in it
        expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=60_000)
        page.evaluate('window.scrollTo(0, 0)')
        summary = page.locator('.q-card', has_text='Failures by error').bounding_box()
        grid = page.locator('.task-grid').bounding_box()
        assert summary is not None and grid is not None and summary['y'] + summary['height'] <= grid['y']
        assert summary['y'] < 800, 'the failures are where the eye is, not 7,000 px down'
        expect(page.locator('#q-notify .q-notification')).to_have_count(0)
        screenshot(page, 'finished-summary-above-grid')
    finally:
        page.close()


def test_starting_a_run_moves_nothing_and_focus_goes_to_cancel(open_page, board):
    use_settings(board, max_duration=600)  # tasks of 1-20 s: Cancel is there long enough to look at
    page = open_page()
    top = page.evaluate(GRID_TOP)
    page.get_by_role('button', name='Start Process').click()
    expect(page.get_by_role('button', name='Cancel', exact=True)).to_be_focused()
    expect(page.get_by_text('ETA')).to_be_visible()
    assert page.evaluate(GRID_TOP) == top, 'the grid stayed where it was'
    page.keyboard.press('Enter')  # Cancel, from the keyboard: it asks first (the run is still going) ...
    expect(page.get_by_role('button', name='Cancel the run')).to_be_focused()
    page.keyboard.press('Enter')  # ... and one more Enter says yes
    expect(page.get_by_role('button', name='Start over')).to_be_enabled()
    page.get_by_role('button', name='Start over').focus()
    page.keyboard.press('Enter')
    expect(page.get_by_role('button', name='Cancel', exact=True)).to_be_focused()
    assert page.evaluate('document.activeElement !== document.body')
    httpx.post(f'{board.base}/reset')


def test_every_control_shows_a_clear_focus_ring(open_page):
    page = open_page()
    rings = {}
    for _ in range(6):
        page.keyboard.press('Tab')
        name = page.evaluate("document.activeElement.innerText || document.activeElement.getAttribute('aria-label')")
        rings[name.strip()] = page.evaluate(OUTLINE)
    assert rings, 'Tab reached nothing'
    faint = {name: ring for name, ring in rings.items() if ring['style'] == 'none' or ring['width'] < 2}
    assert not faint, f'these show no clear ring: {faint}'


def test_the_skip_link_is_the_first_stop_and_lands_in_the_grid(open_page):
    page = open_page()
    page.keyboard.press('Tab')
    link = page.get_by_role('link', name='Skip to tasks')
    expect(link).to_be_focused()
    expect(link).to_be_in_viewport()
    page.keyboard.press('Enter')
    page.wait_for_function("() => document.activeElement.closest('.task-grid') !== null")


def test_settings_open_over_the_board_without_moving_it_and_give_focus_back(open_page):
    for width, height in ((1280, 900), (375, 667)):
        page = open_page(width=width, height=height)
        top = page.evaluate(GRID_TOP)
        opener = page.get_by_role('button', name='Settings')
        opener.focus()
        page.keyboard.press('Enter')
        panel = page.get_by_role('dialog')
        expect(panel.get_by_role('heading', name='Settings')).to_be_visible()
        expect(panel.get_by_text('Next run:', exact=False).first).to_be_visible()
        assert page.evaluate(GRID_TOP) == top, 'the board stays where it was under the panel'
        expect(panel.locator('.q-card')).to_be_in_viewport(ratio=1)  # once it has slid in: all of it on screen
        assert page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') <= 0
        screenshot(page, f'settings-open-{width}', full_page=False)
        page.keyboard.press('Escape')
        expect(panel).to_have_count(0)
        expect(opener).to_be_focused()


def test_on_a_phone_the_summary_fits_and_retry_these_keeps_its_icon_beside_its_words(open_page):
    page = open_page(width=375, height=667)
    page.get_by_role('button', name='Start Process').click()
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=30_000)
    buttons = page.get_by_role('button', name='Retry these')
    expect(buttons.first).to_be_visible()
    for box in (button.bounding_box() for button in buttons.all()):
        assert box is not None and box['height'] < 40, f'a wrapped button: {box}'
        assert box['x'] + box['width'] <= 375
    assert page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') <= 0
    screenshot(page, 'finished-summary-375')
