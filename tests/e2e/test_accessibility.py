"""Accessibility in the browser: axe-core finds nothing serious or critical in any state or theme, the Start button
works from the keyboard, and the progress bar tells assistive technology where the run stands."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

SERIOUS = {'serious', 'critical'}


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe
    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[(n['target'], n['failureSummary']) for n in v['nodes']][:3]}"
            for v in results.response['violations'] if v['impact'] in SERIOUS]


@pytest.mark.parametrize('width', [375, 1280])
@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_axe_finds_nothing_serious_idle_mid_run_or_finished(open_page, scheme, width):
    page = open_page(color_scheme=scheme, width=width, height=667 if width < 400 else 900)
    page.emulate_media(reduced_motion='reduce')  # colours are checked as they are, not half-way through a fade
    assert serious_violations(page) == [], 'idle'
    page.get_by_role('button', name='Start Process').click()
    page.wait_for_function("() => document.querySelectorAll('.task-grid .task-completed').length >= 3",
                           timeout=20_000)
    assert serious_violations(page) == [], 'mid-run'
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=20_000)
    found = serious_violations(page)
    assert found == [], f'finished: {found}'


def test_the_start_button_is_reached_with_tab_and_pressed_with_enter(open_page):
    page = open_page()
    for _ in range(10):
        page.keyboard.press('Tab')
        if page.evaluate('document.activeElement.innerText').strip().lower() == 'start process':
            break
    else:
        pytest.fail('Tab never reached the Start Process button')
    page.keyboard.press('Enter')
    expect(page.get_by_role('button', name='Processing...')).to_be_disabled()


def test_the_progress_bar_exposes_its_role_and_current_value(open_page):
    page = open_page()
    bar = page.get_by_role('progressbar', name='Finished tasks')
    expect(bar).to_have_attribute('aria-valuenow', '0')
    page.get_by_role('button', name='Start Process').click()
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=20_000)
    expect(bar).to_have_attribute('aria-valuenow', '100')


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_axe_finds_nothing_serious_while_tasks_are_stalled_or_timed_out(browser, start_server, scheme):
    """A board of its own where tasks hang (the shared board has no stalls): the badges, the Stalled counter and
    chip, and the timed-out cards at the end."""
    server = start_server('--tasks', '200', '--stall-rate', '0.25', '--task-timeout', '90', '--speed', '10',
                          '--seed', '3')
    page = browser.new_context(viewport={'width': 1280, 'height': 900}, color_scheme=scheme).new_page()
    page.emulate_media(reduced_motion='reduce')
    page.goto(server.base)
    page.get_by_role('button', name='Start Process').click()
    page.wait_for_function("() => document.querySelectorAll('.task-grid .task-stalled').length >= 3")
    expect(page.locator('.stalled-count')).to_be_visible()
    assert serious_violations(page) == [], 'stalled'
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=30_000)
    expect(page.get_by_text('Timed out', exact=True).first).to_be_visible()
    assert serious_violations(page) == [], 'timed out'
