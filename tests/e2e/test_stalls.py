"""Stalls in Chromium, on a board of its own: 200 tasks, 10 % of which hang, a time limit of 90 simulated seconds,
speed 10 (a run of about 9 s). The stalled cards say so with a badge (a word and an hourglass) over a percent that
stands still, the Stalled chip narrows the grid to exactly them, the title and the pace line count them, and after
the run the tasks that timed out are one failure group that "Retry these" runs again.

A card is checked against GET /status read before and after it (the page trails the server by a tick): the cards
that say "Stalled" are those of the tasks /status calls stalled, and such a card shows its task's percent.
"""
from __future__ import annotations

import re
import time

import httpx

from ..helpers import Server
from .conftest import screenshot, status
from .test_grid import CATCH_UP_S, _cards

SETTINGS = ('--tasks', '200', '--stall-rate', '0.1', '--task-timeout', '90', '--speed', '10', '--seed', '3')
TIMED_OUT = 'timed out after 90 s'
STALLED_CARDS = '''() => [...document.querySelectorAll('.task-grid .task-card.task-stalled')].map((card) => {
  const badge = card.querySelector('.task-state');
  return [Number(card.dataset.task), badge.textContent, getComputedStyle(badge, '::before').content,
          getComputedStyle(badge, '::before').fontFamily, card.querySelector('.task-pct').textContent,
          card.getAttribute('aria-label')];
})'''
FILTERED = '''() => {
  const chip = [...document.querySelectorAll('.filters-toggle button')].find((b) => /^Stalled \\d+$/.test(b.innerText));
  const cards = [...document.querySelectorAll('.task-grid .task-card')];
  return [chip ? Number(chip.innerText.split(' ')[1]) : -1, cards.length,
          cards.filter((card) => card.classList.contains('task-stalled')).length];
}'''


def test_stalled_cards_are_badged_and_filtered_and_the_timed_out_tasks_are_retried(browser, start_server):
    server = start_server(*SETTINGS)
    page = browser.new_context(viewport={'width': 1280, 'height': 900}).new_page()
    page.goto(server.base)
    page.locator('.task-grid .task-card').first.wait_for()
    page.get_by_role('button', name='Start Process').click()
    page.wait_for_function("() => document.querySelectorAll('.task-card.task-stalled').length >= 3")

    before, stalled, after = _stalled_cards_caught_up(page, server)
    screenshot(page, 'stalls', full_page=False)
    for task_id, word, icon, font, percent, label in stalled:
        assert word == 'Stalled' and icon == '"hourglass_top"' and font.strip('"') == 'Material Icons', 'an icon too'
        assert re.fullmatch(r'\d+%', percent), percent
        assert re.fullmatch(rf'Task {task_id}: Running · {percent} · stalled: no progress for [\d.]+ s', label), label
        if before[str(task_id)] == after[str(task_id)]:  # it stood still while the card was read
            assert before[str(task_id)] == {'status': 'in_progress', 'progress': int(percent[:-1]), 'stalled': True}
    page.wait_for_function("() => /^\\[\\d+ stalled · \\d+%\\] Task Processing Simulator$/.test(document.title)")
    assert re.search(r' · ETA (?:[^·]+ \+ \d+ stalled|: waits on \d+ stalled)$',
                     page.locator('.pace-line').inner_text()), page.locator('.pace-line').inner_text()

    page.get_by_role('button', name=re.compile(r'^Stalled \d+$')).click()
    _wait_for_only_stalled_cards(page)

    page.get_by_role('button', name=re.compile(r'^All 200$')).click()
    page.get_by_role('button', name='Completed! Start over?').wait_for(timeout=30_000)
    assert page.locator('.task-card.task-stalled').count() == 0, 'a stall ends with its task'
    ended = status(server)
    cards = _cards(page)
    timed_out = next(group['tasks'] for group in ended['error_groups'] if group['error'] == TIMED_OUT)
    assert all(cards[str(i)] == ended['individual'][str(i)] for i in timed_out)

    heading = page.get_by_text('Timed out after 90 s: the time limit per task', exact=True)
    heading.locator('xpath=ancestor::div[contains(@class, "no-wrap")][1]').get_by_role(
        'button', name='Retry these').click()
    retried = _wait_for(server, lambda now: now['attempts'], 'the retried tasks are on their second attempt')
    assert retried['attempts'] == {str(i): 2 for i in timed_out}, 'exactly the timed-out tasks, once each'
    others = {key: entry for key, entry in ended['individual'].items() if int(key) not in timed_out}
    assert {key: retried['individual'][key] for key in others} == others, 'the other tasks are left as they ended'


def _stalled_cards_caught_up(page, server: Server) -> tuple[dict, list, dict]:
    """Wait until the stalled cards are those of the tasks that /status calls stalled: every task stalled both
    before and after the cards were read has a stalled card, and every stalled card's task was stalled at one of the
    two moments. Returns /status's tasks before, the stalled cards, and /status's tasks after."""
    deadline = time.monotonic() + CATCH_UP_S
    while True:
        before = status(server)['individual']
        cards = page.evaluate(STALLED_CARDS)
        after = status(server)['individual']
        shown = {str(card[0]) for card in cards}
        stalled_then, stalled_now = ({key for key, entry in tasks.items() if entry.get('stalled')}
                                     for tasks in (before, after))
        if stalled_then & stalled_now <= shown <= stalled_then | stalled_now:
            return before, cards, after
        assert time.monotonic() < deadline, (f'stalled cards {sorted(shown, key=int)}; /status called '
                                             f'{sorted(stalled_then, key=int)} then {sorted(stalled_now, key=int)}')
        page.wait_for_timeout(50)  # polling a real browser


def _wait_for_only_stalled_cards(page) -> None:
    """The chip's count, the cards in the grid and the stalled cards among them agree (the set changes as tasks
    hang, move on and time out: wait for a moment when the page has caught up)."""
    deadline = time.monotonic() + CATCH_UP_S
    while True:
        chip, cards, stalled = page.evaluate(FILTERED)
        if chip > 0 and cards == stalled == chip:
            return
        assert time.monotonic() < deadline, f'Stalled chip: {chip}; the grid has {cards} cards, {stalled} stalled'
        page.wait_for_timeout(50)  # polling a real browser


def _wait_for(server: Server, condition, what: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while not condition(now := httpx.get(f'{server.base}/status').json()):
        assert time.monotonic() < deadline, f'not within {timeout} s: {what}'
        time.sleep(0.05)  # polling a real server that runs in real time
    return now
