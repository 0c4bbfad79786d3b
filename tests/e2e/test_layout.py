"""Responsive layout, checked in the browser, and the screenshots of every state (saved to artifacts/)."""
from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import screenshot

COLUMNS = """() => {
  const cards = [...document.querySelectorAll('.task-grid .task-card')];
  const top = cards[0].getBoundingClientRect().top;
  return cards.filter(card => Math.abs(card.getBoundingClientRect().top - top) < 1).length;
}"""
OVERFLOW = '() => document.documentElement.scrollWidth - document.documentElement.clientWidth'


@pytest.mark.parametrize(('width', 'columns'), [(375, 5), (767, 5), (768, 10), (1280, 10)])
def test_fifty_cards_lay_out_in_five_or_ten_columns_without_overflow(open_page, width, columns):
    page = open_page(width=width, height=800)
    assert page.evaluate(COLUMNS) == columns
    assert page.evaluate(OVERFLOW) <= 0, 'the page scrolls sideways'
    words = page.locator('.task-grid .task-state').evaluate_all(
        'states => states.filter(s => s.scrollWidth > s.clientWidth).length')
    assert words == 0, 'a state word is cut off'


def test_on_a_phone_the_button_and_bar_are_visible_without_scrolling(open_page):
    page = open_page(width=375, height=667)
    for element in (page.get_by_role('button', name='Start Process'), page.get_by_role('progressbar')):
        box = element.bounding_box()
        assert box is not None and box['y'] >= 0 and box['y'] + box['height'] <= 667
        assert box['x'] >= 0 and box['x'] + box['width'] <= 375


def test_a_large_run_fills_the_width_and_draws_only_what_is_on_screen(browser, start_server):
    server = start_server('--tasks', '2000', '--speed', '2', '--seed', '5')
    httpx.post(f'{server.base}/start')
    page = browser.new_page(viewport={'width': 1280, 'height': 900})
    try:
        page.goto(server.base)
        cards = page.locator('.task-grid .task-card')
        cards.first.wait_for()
        assert page.evaluate(COLUMNS) > 10
        assert page.evaluate(OVERFLOW) <= 0
        assert 0 < cards.count() < 400, 'only the rows on screen (and a few more) are in the page'
        page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)')
        expect(page.locator('.task-card[data-task="1999"]')).to_be_in_viewport()
        assert 0 < cards.count() < 400, 'scrolled: still only the rows on screen (their percents: test_grid.py)'
    finally:
        page.close()


def test_screenshots_of_idle_mid_run_and_finished_in_light_and_dark(open_page, board):
    pages = {(scheme, width): open_page(width=width, height=900 if width > 400 else 667, color_scheme=scheme)
             for scheme in ('light', 'dark') for width in (375, 1280)}
    for (scheme, width), page in pages.items():
        page.emulate_media(reduced_motion='reduce')  # pictures of settled states, not of colours half-way
        screenshot(page, f'idle-{scheme}-{width}')
    first = next(iter(pages.values()))
    first.get_by_role('button', name='Start Process').click()
    for (scheme, width), page in pages.items():
        expect(page.get_by_text('Running:', exact=False)).to_be_visible()
        page.wait_for_function("() => document.querySelectorAll('.task-grid .task-completed').length >= 5",
                               timeout=20_000)
        path = screenshot(page, f'mid-run-{scheme}-{width}')
        assert path.stat().st_size > 10_000
    for (scheme, width), page in pages.items():
        expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=20_000)
        screenshot(page, f'finished-{scheme}-{width}')
    dark = pages[('dark', 1280)]
    assert 'body--dark' in dark.evaluate('document.body.className'), 'dark mode follows the system setting'
    assert 'body--dark' not in pages[('light', 1280)].evaluate('document.body.className')


SETTLED = """async (y) => {
  window.scrollTo(0, y);
  const seen = [];
  for (let i = 0; i < 40; i++) {
    await new Promise(resolve => requestAnimationFrame(resolve));
    seen.push([window.scrollY, document.documentElement.scrollHeight]);
  }
  return seen.slice(10);
}"""


@pytest.mark.parametrize('y', [25, 40, 64])
def test_a_page_scrolled_a_little_stays_where_it_is(open_page, y):
    """The compact header shortens the page as it scrolls; with the browser's scroll anchoring on, the scroll
    position was moved back, the header grew again, and the page flipped between two heights for good."""
    page = open_page(width=1280, height=700)
    frames = page.evaluate(SETTLED, y)
    assert len({tuple(frame) for frame in frames}) == 1, f'the page keeps moving: {frames}'
