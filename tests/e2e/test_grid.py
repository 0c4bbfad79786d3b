"""The real grid (task_grid.js) in Chromium, card by card against GET /status: while a run goes on, once it is
frozen by a cancel, scrolled in a 1,000-task grid, and narrowed by the filter chips.

A card is read from the DOM as a user sees it: its state (class and word), its percent (its accessible name, and
the visible text while it runs or once it failed) and its error. A running card whose percent the page does not
know yet (just scrolled into view) says "…%": it counts as behind the server until the fresh percent arrives.
While the run goes on the page trails the server by a tick, so a card is checked to lie between two /status reads
taken before and after it; once the run is frozen, exactly.
"""
from __future__ import annotations

import re
import time
from typing import Any

import httpx

from taskdemo.ui.states import WORDS

from ..helpers import Server
from .conftest import status, use_settings

CATCH_UP_S = 5.0  # a page trails the server by a tick (0.25 s) and a round trip; far more is a bug
ENDED = {'completed', 'failed', 'cancelled'}
RANK = {'pending': 0, 'in_progress': 1, 'interrupted': 1, **dict.fromkeys(ENDED, 2)}
STATE_OF_CLASS = re.compile(r'\btask-(pending|in_progress|completed|failed|cancelled|interrupted)\b')
WORD = {status.value: word for status, word in WORDS.items()}
CARDS = '''() => [...document.querySelectorAll('.task-grid .task-card')].map((card) => [
  Number(card.dataset.task), card.className, card.querySelector('.task-state').textContent,
  card.querySelector('.task-pct').textContent, card.getAttribute('aria-label')])'''
FILTERED = '''(total) => [...document.querySelectorAll('.task-grid .task-card')].every(
  (card) => Number(card.getAttribute('aria-setsize')) < total)'''
REPORTED = '''() => {
  const grid = document.querySelector('.task-grid');
  return grid ? getElement(grid.parentElement.id.slice(1)).reported : 'nothing: no grid in the page';
}'''
LABEL = re.compile(r'^Task (?P<id>\d+): (?P<word>\w+) · (?:(?P<percent>\d+)%|percent updating)'
                   r'(?P<stalled> · stalled(?:: no progress for [^·]+)?)?'
                   r'(?: · attempt \d+)?(?: · took (?P<took>[^·]+))?(?: · (?P<error>.*))?$', re.DOTALL)
TIMED_OUT = re.compile(r'^timed out after \S+ s$')  # model.timeout_message: the card says "Timed out", not "Failed"
SCROLL_TO_END = 'window.scrollTo(0, document.documentElement.scrollHeight)'


def test_every_card_follows_the_run_and_equals_the_server_once_the_run_is_frozen(open_page, board):
    use_settings(board, max_duration=600)  # tasks of 1-20 s: the run still goes on when it is cancelled
    page = open_page()
    page.get_by_role('button', name='Start Process').click()
    _wait_for_status(board, lambda now: now['completed'] and now['failed'] and _moving(now) >= 10,
                     'a task completed, one failed, and ten running tasks showed a percent')
    shown = _catch_up(page, board)
    assert len(shown) == 50 and _moving(shown) >= 10, 'the running cards show their percent, not 0'

    assert httpx.post(f'{board.base}/cancel').status_code == 200
    frozen = status(board)
    assert frozen['state'] == 'cancelled' and frozen['cancelled'] and frozen['failed'] and frozen['completed']
    _wait_for_exactly(page, frozen['individual'])

    for state in ('completed', 'failed', 'cancelled'):  # the chips narrow the grid to exactly those cards
        page.get_by_role('button', name=f'{WORD[state]} {frozen[state]}', exact=True).click()
        _wait_for_exactly(page, {key: entry for key, entry in frozen['individual'].items()
                                 if entry['status'] == state}, f'the {state} view')
    page.get_by_role('button', name='All 50', exact=True).click()
    _wait_for_exactly(page, frozen['individual'])

    page.get_by_role('button', name='Start over').click()  # a new run: a new snapshot replaces the old cards
    page.locator('.task-grid .task-cancelled').first.wait_for(state='detached')
    shown = _catch_up(page, board)
    assert len(shown) == 50 and not any(card['status'] == 'cancelled' for card in shown.values())


def test_a_large_grid_brings_the_cards_scrolled_into_view_up_to_date_and_filters_them(open_page, board):
    use_settings(board, tasks=1000, speed=2, min_duration=60, max_duration=120)  # tasks of 30-60 s
    page = open_page()
    assert httpx.post(f'{board.base}/start').status_code == 200
    # the page reported the top rows as shown: the percent of the bottom ones does not travel until they are
    bottom = [str(i) for i in range(900, 1000)]
    _wait_for_status(board, lambda now: _moving(now, bottom) >= 20, 'twenty of the last 100 tasks showed a percent')
    page.evaluate(SCROLL_TO_END)
    page.locator('.task-card[data-task="999"]').wait_for()
    shown = _catch_up(page, board)
    assert '999' in shown and min(map(int, shown)) > 500, f'only the rows on screen: {sorted(map(int, shown))[:5]}'
    assert _moving(shown) >= 20, 'the cards scrolled into view show the percent they reached, not what they had'

    page.get_by_role('button', name=re.compile(r'^Running \d+$')).click()
    assert httpx.post(f'{board.base}/cancel').status_code == 200
    frozen = status(board)
    _wait_for_exactly(page, {}, 'the running view once nothing runs')
    page.get_by_role('button', name=f'Cancelled {frozen["cancelled"]}', exact=True).click()
    cancelled = [key for key, entry in frozen['individual'].items() if entry['status'] == 'cancelled']
    shown = _wait_for_exactly(page, frozen['individual'], 'the cancelled view', subset=True)
    assert list(shown) == cancelled[cancelled.index(min(shown, key=int)):][:len(shown)], 'a slice of the view'
    page.get_by_role('button', name=re.compile(r'^All 1,?000$')).click()
    page.evaluate('window.scrollTo(0, 0)')
    shown = _wait_for_exactly(page, frozen['individual'], 'the top of the grid', subset=True)
    assert '0' in shown and len(shown) < 500


def test_a_filtered_large_grid_keeps_the_percent_of_the_cards_that_move_into_view(open_page, board):
    use_settings(board, tasks=1000, speed=2, min_duration=60, max_duration=120, failure_rate=0.5)
    page = open_page()
    assert httpx.post(f'{board.base}/start').status_code == 200
    _wait_for_status(board, lambda now: now['failed'], 'a task failed')  # so that "Running" is fewer than all
    page.get_by_role('button', name=re.compile(r'^Running \d+$')).click()
    page.wait_for_function(FILTERED, arg=1000)
    first = _catch_up(page, board)
    assert first and all(card['status'] == 'in_progress' for card in first.values()), 'only running cards'
    _wait_for_status(board, lambda now: sum(now['individual'][key]['status'] != 'in_progress' for key in first) >= 3,
                     'three of the running cards in view ended: they leave the view, the next ones move in')
    shown = _catch_up(page, board)
    moved_in = set(shown) - set(first)
    assert moved_in and all(shown[key]['status'] == 'in_progress' for key in shown), sorted(moved_in)
    assert _moving(shown, sorted(moved_in)) == len(moved_in), 'the cards that moved in show their percent'


# ---- helpers ---------------------------------------------------------------------------------------------------

def _cards(page) -> dict[str, dict[str, Any]]:
    """Every card in the DOM as /status shows a task: id -> status, progress (and error)."""
    cards: dict[str, dict[str, Any]] = {}
    for task_id, classes, word, percent_text, label in page.evaluate(CARDS):
        status_name = STATE_OF_CLASS.search(classes)[1]
        named = LABEL.match(label)
        stalled = 'task-stalled' in classes  # a stalled running card says so in place of "Running"
        error = named['error'] or '' if named else ''
        assert named and int(named['id']) == task_id and named['word'] == WORD[status_name], (classes, label)
        shown_word = 'Stalled' if stalled else 'Timed out' if TIMED_OUT.match(error) else WORD[status_name]
        assert word == shown_word and bool(named['stalled']) == stalled, (word, label)
        progress = -1 if named['percent'] is None else int(named['percent'])  # -1: not known yet
        runs = status_name in {'in_progress', 'interrupted'}
        expected = {'failed': f'at {progress}%' if TIMED_OUT.match(error) else
                    f'at {progress}% · {error.removeprefix("Simulated failure: ")}',
                    'completed': named['took'] or ''}.get(status_name, '')
        if runs:
            expected = '…%' if progress < 0 else f'{progress}%'
        assert percent_text == expected, (task_id, percent_text, label)
        cards[str(task_id)] = {'status': status_name, 'progress': progress,
                               **({'error': named['error']} if status_name == 'failed' else {})}
    return cards


def _catch_up(page, server: Server) -> dict[str, dict[str, Any]]:
    """Wait until every card shows at least what /status showed a moment ago, then check that none shows more
    than /status shows a moment later: each card is one moment of its task between the two reads."""
    before = status(server)['individual']
    deadline = time.monotonic() + CATCH_UP_S
    while True:
        shown = _cards(page)
        behind = [key for key, card in shown.items() if _order(card) < _order(before[key])]
        if not behind:
            break
        assert time.monotonic() < deadline, \
            f'{len(behind)} cards still behind the server after {CATCH_UP_S} s: ' + \
            ', '.join(f'{key}: {shown[key]} < {before[key]}' for key in behind[:5]) + \
            f'; the grid last reported {page.evaluate(REPORTED)}'
        page.wait_for_timeout(50)  # polling a real browser: the batches come when the server sends them
    after = status(server)['individual']
    for key, card in shown.items():
        assert _order(card) <= _order(after[key]), f'card {key} shows {card}, ahead of the server: {after[key]}'
        if card['status'] in ENDED:
            assert card == after[key], f'card {key} ended as {card}, the server says {after[key]}'
    return shown


def _wait_for_exactly(page, expected: dict[str, dict[str, Any]], what: str = 'the grid', *,
                      subset: bool = False) -> dict[str, dict[str, Any]]:
    """Wait until the cards in the DOM are exactly `expected` (or, `subset`: each one as expected, at least one)."""
    deadline = time.monotonic() + CATCH_UP_S
    while True:
        shown = _cards(page)
        wrong = {key: (card, expected.get(key)) for key, card in shown.items() if card != expected.get(key)}
        if not wrong and (set(shown) == set(expected) if not subset else shown):
            return shown
        assert time.monotonic() < deadline, (
            f'{what} after {CATCH_UP_S} s: {len(shown)} cards, {len(expected)} expected; '
            f'missing {sorted(set(expected) - set(shown), key=int)[:5]}; shown vs expected: {list(wrong.items())[:5]}')
        page.wait_for_timeout(50)  # polling a real browser


def _wait_for_status(server: Server, condition, what: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not condition(now := status(server)):
        assert now['state'] == 'running', f'the run ended before {what}'
        assert time.monotonic() < deadline, f'not within {timeout} s: {what}'
        time.sleep(0.05)  # polling a real server that runs in real time
    return now


def _order(entry: dict[str, Any]) -> tuple[int, int]:
    """How far a task has gone: its state moves only forward, and its percent only up while it runs."""
    rank = RANK[entry['status']]
    return rank, entry['progress'] if rank == 1 else 0


def _moving(tasks: dict[str, Any], keys: list[str] | None = None) -> int:
    """How many of these tasks run with a percent above 0 (in a /status reply, or as cards)."""
    entries = tasks.get('individual', tasks)
    return sum(1 for key in keys or entries if entries[key]['status'] == 'in_progress' and entries[key]['progress'])
