"""A board two people share, in Chromium (issue 17): a start over in tab A asks first (B is watching); B is told
who did it, and its Activity lists it; B hidden for 40 s of a fast run comes back to a digest that matches the
counters.

Headless Chromium never hides a page by itself (bringing another page to the front, minimizing the window through
CDP and freezing the page were tried: `document.visibilityState` stays "visible"), so the test makes the page's
document say what a hidden tab's says and fires its `visibilitychange`, as the browser would."""
from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from .conftest import screenshot
from .test_accessibility import SERIOUS, serious_violations

WAIT_MS = 10_000
RUN_MS = 60_000
AWAY_MS = 40_000
# tasks of 1-4 s, three at a time: a run of about 25 s, over well within B's 40 s away
RUN = ('--tasks', '30', '--speed', '30', '--concurrency', '3', '--failure-rate', '0.3', '--seed', '5')
SET_VISIBILITY = """(state) => {
    Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => state});
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => state === 'hidden'});
    document.dispatchEvent(new Event('visibilitychange'));
}"""
COUNTER = re.compile(r'^(Completed|Failed): ([\d,]+)$')


def dialog_violations(page) -> list[str]:
    """What axe finds serious with a dialog open. axe measures the text of a Quasar dialog's buttons against the
    backdrop behind the card (it names `.q-dialog__backdrop` as the background), not the card's own opaque one;
    such a finding is checked again here against the card's colours, and kept only if it fails there too."""
    from axe_playwright_python.sync_playwright import Axe
    found = []
    for violation in Axe().run(page).response['violations']:
        if violation['impact'] not in SERIOUS:
            continue
        for node in violation['nodes']:
            behind = {target for check in node['any'] for related in check['relatedNodes']
                      for target in related['target']}
            if violation['id'] == 'color-contrast' and '.q-dialog__backdrop' in behind and \
                    page.evaluate(CONTRAST_ON_CARD, node['target'][0]) >= 4.5:
                continue
            found.append(f"{violation['id']}: {node['target']}")
    return found


# the contrast of an element's text on the nearest ancestor with an opaque background (WCAG's formula)
CONTRAST_ON_CARD = """(selector) => {
    const rgb = text => text.match(/[\\d.]+/g).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map(c => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4)
        .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
    const element = document.querySelector(selector);
    let back = element;
    while (back && (rgb(getComputedStyle(back).backgroundColor)[3] ?? 1) < 1) back = back.parentElement;
    const [a, b] = [lum(rgb(getComputedStyle(element).color)), lum(rgb(getComputedStyle(back).backgroundColor))];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def status(base: str) -> dict:
    return httpx.get(f'{base}/status', timeout=10).json()


def shown_finished(page) -> int:
    """Completed plus failed, as the page's counters say."""
    total = 0
    for text in page.locator('.counter').all_inner_texts():
        if match := COUNTER.match(text.strip()):
            total += int(match.group(2).replace(',', ''))
    return total


def test_a_start_over_asks_the_other_tab_is_told_and_comes_back_to_a_digest(browser, start_server):
    server = start_server(*RUN)
    context = browser.new_context(viewport={'width': 1280, 'height': 900})
    a, b = context.new_page(), context.new_page()
    for page in (a, b):  # colours are checked as they are, not half-way through a fade
        page.emulate_media(reduced_motion='reduce')
    for page in (a, b):
        page.goto(server.base)
        page.wait_for_function('() => window.did_handshake === true')
    for page in (a, b):
        expect(page.locator('.watching')).to_contain_text('2 watching', timeout=WAIT_MS)
    tab_a = a.locator('.watching-tab').inner_text().removeprefix('· tab ')

    a.get_by_role('button', name='Start Process').click()  # nothing to wipe yet: no question
    expect(b.get_by_text(re.compile(rf'^Run 1 started by a board tab \(tab {tab_a}\): 30 tasks'))).to_be_visible(
        timeout=WAIT_MS)
    expect(a.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=RUN_MS)
    a.get_by_role('button', name='Completed! Start over?').click()  # run 1 leaves B's board too: asked first
    question = a.locator('.q-dialog').get_by_text('1 other is watching this run.')
    expect(question).to_be_visible()
    expect(a.get_by_role('button', name='Start the new run')).to_be_focused()
    a.wait_for_function("() => !document.querySelector('.q-dialog [class*=q-transition--]')")  # drawn in full
    screenshot(a, 'confirm-start-over-1280', full_page=False)
    assert dialog_violations(a) == [], 'the question'
    a.keyboard.press('Enter')  # one keypress
    expect(a.get_by_role('button', name='Processing...')).to_be_visible(timeout=WAIT_MS)
    started = re.compile(rf'Run 2 started by a board tab \(tab {tab_a}\): 30 tasks')
    expect(b.get_by_text(started).first).to_be_visible(timeout=WAIT_MS)  # the notification
    b.get_by_role('button', name='Activity').click()
    expect(b.locator('.activity-entry').first).to_contain_text(started)
    b.locator('.activity-list').scroll_into_view_if_needed()
    b.wait_for_timeout(500)  # for the picture only: Quasar's slide-open has ended
    screenshot(b, 'activity-told-1280', full_page=False)
    assert serious_violations(b) == [], 'the activity panel open'

    def settled() -> bool:  # a few tasks done, and the page shows what the server has
        now = status(server.base)
        return now['completed'] + now['failed'] >= 3 and shown_finished(b) == now['completed'] + now['failed']

    for _ in range(200):
        if settled():
            break
        b.wait_for_timeout(50)
    before = shown_finished(b)
    b.evaluate(SET_VISIBILITY, 'hidden')
    b.wait_for_timeout(AWAY_MS)
    final = status(server.base)
    assert final['state'] == 'completed', 'the run ended while B was away'
    b.evaluate(SET_VISIBILITY, 'visible')
    digest = b.locator('.digest')
    expect(digest).to_be_visible(timeout=WAIT_MS)
    expect(digest.get_by_role('heading')).to_contain_text(re.compile(r'^While you were away \(4\d\.\d s\)$'))
    ended = final['completed'] + final['failed'] - before
    expect(digest).to_contain_text(f'Run 2: {ended} tasks finished (')
    expect(digest).to_contain_text(f"Run 2 completed: {final['completed']} completed, {final['failed']} failed.")
    screenshot(b, 'digest-1280', full_page=False)
    assert serious_violations(b) == [], 'the digest'
    b.get_by_role('button', name='Dismiss').click()
    expect(digest).to_be_hidden()
    context.close()
