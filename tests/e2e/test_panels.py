"""The panels in Chromium: History fits a phone and opens a run in a dialog that closes with its ✕; the timeline of
1,000 tasks names only the outcomes it has, says which rows it shows, and reads well in the dark; a disabled
button keeps its text readable."""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from ..test_board_css import contrast
from .conftest import screenshot

RUN_TIMEOUT_MS = 30_000
FITS = '''() => {
  const table = document.querySelector('.history-table').getBoundingClientRect();
  const cells = [...document.querySelectorAll('.history-table td, .history-table th')].filter((c) => c.offsetParent);
  return {page: document.documentElement.scrollWidth <= document.documentElement.clientWidth,
          table: table.left >= 0 && table.right <= window.innerWidth,
          cells: cells.every((c) => c.getBoundingClientRect().right <= window.innerWidth)};
}'''
CHART = '''() => {
  const element = document.querySelector('.timeline-chart');
  const chart = element && getElement(element.id.slice(1)).chart;
  if (!chart) return null;  // made when the panel first opens
  const option = chart.getOption();
  return {legend: option.legend[0].data, text: option.legend[0].textStyle.color,
          axis: option.xAxis[0].axisLabel.color, grid: option.xAxis[0].splitLine.lineStyle.color,
          bars: option.series.map((s) => s.itemStyle.color),
          page: [document.body, document.documentElement].map((e) => getComputedStyle(e).backgroundColor)
            .find((colour) => colour !== 'rgba(0, 0, 0, 0)') || 'rgb(255, 255, 255)'};  // transparent: the canvas
}'''
DISABLED = '''(button) => { const style = getComputedStyle(button);
  return [style.opacity, style.backgroundColor, style.color]; }'''


@contextlib.contextmanager
def finished_run(browser, board, *, width: int = 1280, height: int = 900, scheme: str = 'light') -> Iterator[object]:
    """A page of its own on `board`, after Start Process has run every task."""
    context = browser.new_context(viewport={'width': width, 'height': height}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(board.base + '/')
        page.get_by_role('button', name='Start Process').click()
        expect(page.get_by_role('button', name='Completed! Start over?')).to_be_enabled(timeout=RUN_TIMEOUT_MS)
        yield page
    finally:
        context.close()


def test_history_fits_a_phone_and_opens_a_run_that_closes_with_its_cross(browser, start_server):
    board = start_server('--speed', '3000', '--tasks', '40', '--seed', '2')
    with finished_run(browser, board, width=375, height=740) as page:
        page.get_by_role('button', name='Completed! Start over?').click()
        expect(page.get_by_role('button', name='Completed! Start over?')).to_be_enabled(timeout=RUN_TIMEOUT_MS)
        page.get_by_role('button', name='History').click()
        expect(page.locator('.history-table tbody tr')).to_have_count(2)
        expect(page.get_by_role('button', name='Open run 2')).to_be_visible()
        expect(page.get_by_role('link', name='Run 1 as CSV')).to_be_visible()
        assert page.evaluate(FITS) == {'page': True, 'table': True, 'cells': True}
        screenshot(page, 'panels-history-375')
        page.get_by_role('button', name='Open run 2').click()
        dialog = page.get_by_role('dialog')
        expect(dialog.get_by_role('heading', name='Run 2')).to_be_visible()
        expect(dialog).to_contain_text(re.compile(r'Completed in [\d.]+ s: \d+ completed, \d+ failed'))
        expect(dialog).to_contain_text('40 tasks, 20 % failing, 30-120 s, ×3000, seed 2')
        dialog.get_by_role('button', name='Close').click()
        expect(page.get_by_role('dialog')).to_have_count(0)


def test_the_timeline_of_a_thousand_tasks_names_what_it_has_and_which_rows_it_shows(browser, start_server):
    board = start_server('--speed', '3000', '--tasks', '1000', '--seed', '3')
    with finished_run(browser, board) as page:
        page.get_by_role('button', name='Timeline').click()
        rows = page.locator('.timeline-rows')
        expect(rows).to_have_text('rows 1-60 of 1,000')
        page.wait_for_function(f'() => ({CHART})()?.legend.length > 0')
        assert page.evaluate(CHART)['legend'] == ['Completed', 'Failed'], 'no Running, Interrupted or earlier attempt'
        page.locator('.timeline-chart').scroll_into_view_if_needed()
        chart = page.locator('.timeline-chart').bounding_box()
        page.mouse.move(chart['x'] + chart['width'] / 2, chart['y'] + chart['height'] / 2)
        page.mouse.wheel(0, 400)  # the inside zoom: out, showing more rows
        expect(rows).to_have_text(re.compile(r'^rows 1-\d+ of 1,000$'))
        expect(rows).not_to_have_text('rows 1-60 of 1,000')


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_the_timeline_text_meets_aa_and_its_gridlines_stay_behind_the_bars(browser, start_server, scheme):
    board = start_server('--speed', '3000', '--tasks', '100', '--seed', '3')
    with finished_run(browser, board, scheme=scheme) as page:
        page.get_by_role('button', name='Timeline').click()
        page.wait_for_function(f'() => ({CHART})()?.legend.length > 0')
        drawn = page.evaluate(CHART)
        background = hex_colour(drawn['page'])
        assert (background == '#ffffff') == (scheme == 'light')
        assert contrast(drawn['text'], background) >= 4.5 and contrast(drawn['axis'], background) >= 4.5
        grid = contrast(drawn['grid'], background)
        assert all(grid < contrast(bar, background) for bar in drawn['bars']), drawn
        screenshot(page, f'panels-timeline-{scheme}')


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_the_disabled_processing_button_keeps_its_text_readable(open_page, scheme):
    page = open_page(color_scheme=scheme)
    page.emulate_media(reduced_motion='reduce')
    page.get_by_role('button', name='Start Process').click()
    button = page.get_by_role('button', name='Processing...')
    expect(button).to_be_disabled()
    opacity, background, text = button.evaluate(DISABLED)
    assert opacity == '1' and contrast(hex_colour(background), hex_colour(text)) >= 4.5, (background, text)


def hex_colour(css: str) -> str:
    """rgb(18, 18, 18) as #121212."""
    red, green, blue = (int(part) for part in re.findall(r'\d+', css)[:3])
    return f'#{red:02x}{green:02x}{blue:02x}'
