"""Replay in Chromium, on a board of its own: a seeded run of 100 tasks, 30 % of which fail, 25 at a time, at speed
60 (about 5 s), then a retry of its failures (about 3 s more). While it runs, the test records the live /status at
every tick it sees; afterwards the page scrubs back to three of those moments (two of the first pass, one after the
retry began) with the slider's keys and the step button, and its counters and five cards (failed by the first moment,
running then, waiting then, failing between the first two, running again after the retry) must be what /status said
live then. A moment reached with the arrow keys alone is compared with GET /runs/1/state at the moment the page
shows (Share tells it exactly), and the link Share gives opens the same board in a fresh tab.

The step button reaches a live moment exactly: a task that finishes does so at a tick of the run's clock, the moment
/status reports, and stepping goes from one such moment to the next.
"""
from __future__ import annotations

import math
import re
import time
from typing import Any

import httpx
from playwright.sync_api import expect

from taskdemo.ui.summary import format_duration

from ..helpers import Server
from .test_grid import LABEL, STATE_OF_CLASS, WORD

SETTINGS = ('--tasks', '100', '--failure-rate', '0.3', '--concurrency', '25', '--speed', '60', '--seed', '5')
WAIT_MS = 15_000  # a loaded machine: a redraw takes a round trip and a snapshot; far more is a bug
RUN_TIMEOUT_S = 60.0
COUNTERS = ('completed', 'failed', 'running', 'pending')
SHOWN = '''(ids) => {
  const seen = (element) => element && element.checkVisibility();
  const header = document.querySelector('header');
  const progress = [...header.querySelectorAll('.counter.text-lg')].filter(seen).map((e) => e.textContent);
  const counters = [...header.querySelectorAll('.counters .counter')].filter(seen).map((e) => e.textContent);
  const cards = ids.map((id) => {
    const card = document.querySelector(`#replay-tasks .task-card[data-task="${id}"]`);
    return card && seen(card) ? [card.className, card.querySelector('.task-state').textContent,
                                 card.getAttribute('aria-label')] : null;
  });
  return {progress, counters, cards, live: [...document.querySelectorAll('#tasks')].some(seen)};
}'''
TEXTS = '''() => {
  const grid = getElement(document.querySelector('#replay-tasks').parentElement.id.slice(1));
  return [grid.errors, Object.fromEntries(Object.entries(grid.attempts).map(([id, [attempt]]) => [id, attempt]))];
}'''


def test_scrubbing_back_shows_the_board_recorded_live_and_a_link_opens_the_same_moment(browser, start_server):
    server = start_server(*SETTINGS)
    context = browser.new_context(viewport={'width': 1280, 'height': 900})
    page = context.new_page()
    page.goto(server.base)
    page.locator('#tasks .task-card').first.wait_for()

    assert httpx.post(f'{server.base}/start').status_code == 200
    first_pass = _record(server)
    retried = httpx.post(f'{server.base}/retry').json()['tasks']
    assert len(retried) == first_pass[-1]['failed'] >= 10, 'seed 5: some 30 failures, all retried'
    after_retry = _record(server)
    moments = [_pick(server, first_pass, lambda body: body['failed'] >= 3 and body['pending'] > 0),
               _pick(server, first_pass, lambda body: body['pending'] == 0 and body['running'] >= 10),
               _pick(server, after_retry, lambda body: body['running'] >= 5 and body['completed'] > 0)]
    assert moments[2]['elapsed_s'] > first_pass[-1]['elapsed_s'] and moments[2]['attempts'], 'after the retry began'
    ids = _cards_to_compare(moments, retried)
    end = after_retry[-1]['elapsed_s']
    expect(page.locator('.replay-time')).to_have_text(f'{end:,.1f} s · ended', timeout=WAIT_MS)

    slider = page.get_by_role('slider', name='Moment of the run')
    keys = slider.locator('[tabindex="0"]')  # Quasar's slider takes the focus on its track, inside the role
    keys.press('Home')
    position = _moved(page, end, from_=end)
    assert position == 0.0
    expect(page.get_by_role('region', name='Replay')).to_be_visible()
    for live in moments:  # forward, a key (1 s) at a time, then one event at a time up to the moment exactly
        target = live['elapsed_s']
        for _ in range(math.floor(target - position)):
            keys.press('ArrowRight')
            assert (position := _moved(page, end, from_=position)) <= target
        while position < target:
            page.get_by_role('button', name='Step forward one event').click()
            position = _moved(page, end, from_=position)
            assert position <= target, f'stepped past {target} s to {position} s: the moment is not an event\'s'
        assert _shared_moment(page, server) == target, 'Share gives the moment shown, exactly'
        _wait_for_board(page, live, ids, f'{target} s as recorded live')
        _assert_texts(page, live)
        expect(page.get_by_role('region', name='Replay')).to_contain_text(f'Replaying run 1 at {target:,.1f} s')

    for _ in range(3):  # back by the arrow keys alone: the board is the server's replay at the moment shown
        keys.press('ArrowLeft')
        position = _moved(page, end, from_=position)
    shown_at = _shared_moment(page, server)
    assert shown_at == position and math.isclose(shown_at, moments[2]['elapsed_s'] - 3)
    replayed = httpx.get(f'{server.base}/runs/1/state', params={'at': repr(shown_at)}).json()
    _wait_for_board(page, replayed, ids, f'{shown_at} s from GET /runs/1/state')
    _assert_texts(page, replayed)
    words = (f'Run 1 at {format_duration(shown_at)}: {replayed["completed"]} completed, {replayed["failed"]} failed, '
             f'{replayed["running"]} running')  # and nothing cancelled, interrupted or stalled in this run
    expect(page.locator('.replay-bar [aria-live=polite]')).to_have_text(words, timeout=WAIT_MS)  # once keys stop

    fresh = browser.new_context(viewport={'width': 1280, 'height': 900}).new_page()
    fresh.goto(_share(page))  # /runs/1?at=..., which sends a browser to the board replaying that moment
    expect(fresh.get_by_role('region', name='Replay')).to_contain_text(f'Replaying run 1 at {shown_at:,.1f} s',
                                                                       timeout=WAIT_MS)
    assert fresh.url.startswith(f'{server.base}/?run=1&at='), fresh.url
    assert float(fresh.get_by_role('slider', name='Moment of the run').get_attribute('aria-valuenow')) == shown_at
    _wait_for_board(fresh, replayed, ids, 'the link, in a fresh tab')
    fresh.context.close()
    context.close()


def _record(server: Server) -> list[dict[str, Any]]:
    """Every /status of the run seen until it stops running, one per moment of its clock (a tick)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        body = httpx.get(f'{server.base}/status').json()
        if not seen or body['elapsed_s'] != seen[-1]['elapsed_s']:
            seen.append(body)
        if body['state'] != 'running':
            return seen
        assert time.monotonic() < deadline, f'the run did not end within {RUN_TIMEOUT_S} s'
        time.sleep(0.02)  # polling a real server that runs in real time: every tick (0.25 s) is seen


def _pick(server: Server, bodies: list[dict[str, Any]], wanted) -> dict[str, Any]:
    """The first live moment that is `wanted`, while the run went on, at which a task ended (so the step button
    reaches it: nothing else ends between the tick before it and it)."""
    for body in bodies:
        if body['state'] == 'running' and wanted(body) and _ended(server, body['elapsed_s']) > \
                _ended(server, body['elapsed_s'] - 0.001):
            return body
    raise AssertionError('no such moment seen live: ' + ', '.join(f'{b["elapsed_s"]:.2f}' for b in bodies))


def _ended(server: Server, at: float) -> int:
    body = httpx.get(f'{server.base}/runs/1/state', params={'at': repr(at)}).json()
    return body['completed'] + body['failed']


def _cards_to_compare(moments: list[dict[str, Any]], retried: list[int]) -> list[int]:
    """Five tasks whose cards differ between the moments: failed by the first (and retried), running at the first,
    waiting at the first, failing between the first and the second, running again (retried) at the third."""
    first, second, third = (live['individual'] for live in moments)
    wanted = [lambda i: first[i]['status'] == 'failed' and int(i) in retried,
              lambda i: first[i]['status'] == 'in_progress' and second[i]['status'] != 'in_progress',
              lambda i: first[i]['status'] == 'pending' and second[i]['status'] != 'pending',
              lambda i: first[i]['status'] != 'failed' and second[i]['status'] == 'failed',
              lambda i: third[i]['status'] == 'in_progress' and int(i) in retried]
    chosen: list[int] = []
    for condition in wanted:  # each time preferring a task that had failed by the second moment: more to differ
        chosen.append(min((int(i) for i in first if int(i) not in chosen and condition(i)),
                          key=lambda i: (second[str(i)]['status'] != 'failed', i)))
    return chosen


def _expected(live: dict[str, Any], ids: list[int]) -> dict[str, Any]:
    finished = live['completed'] + live['failed'] + live['cancelled']
    cards = [(live['individual'][str(i)]['status'], live['individual'][str(i)]['progress']) for i in ids]
    return {'progress': [f'{live["progress"]:.0f}% · {finished} of {live["total"]} finished'],
            'counters': [f'{name.title()}: {live[name]:,}' for name in COUNTERS], 'cards': cards}


def _shown(page, ids: list[int]) -> dict[str, Any]:
    """The replayed board as the user sees it: the progress line, the counters, the five cards (state, percent)."""
    raw = page.evaluate(SHOWN, ids)
    assert not raw['live'], 'the live grid is hidden while the page replays'
    cards = []
    for card in raw['cards']:
        if card is None:
            cards.append(None)
            continue
        classes, word, label = card
        state, named = STATE_OF_CLASS.search(classes)[1], LABEL.match(label)
        assert named and named['word'] == word == WORD[state], (classes, word, label)
        cards.append((state, int(named['percent']) if named['percent'] else None))
    return {'progress': raw['progress'], 'counters': [text for text in raw['counters']
                                                      if text.split(':')[0].lower() in COUNTERS], 'cards': cards}


def _wait_for_board(page, live: dict[str, Any], ids: list[int], what: str) -> None:
    expected = _expected(live, ids)
    deadline = time.monotonic() + WAIT_MS / 1000
    while (shown := _shown(page, ids)) != expected:
        assert time.monotonic() < deadline, f'{what}: the page shows {shown}, expected {expected}'
        page.wait_for_timeout(50)  # polling a real browser


def _assert_texts(page, live: dict[str, Any]) -> None:
    """Every error and attempt number in the page's grid is the one /status gave: every scrub after the first sends
    only the texts that changed (grid_wire.patch), which must add up to all of them."""
    errors, attempts = page.evaluate(TEXTS)
    assert errors == {i: task['error'] for i, task in live['individual'].items() if task['status'] == 'failed'}
    assert attempts == live['attempts'], 'the retried tasks, each with its attempt then'


def _moved(page, end: float, *, from_: float) -> float:
    """The moment the page shows once it moved on from `from_`: the slider's value, exactly, once the readout says
    it too (the readout comes with the redrawn board)."""
    slider = page.get_by_role('slider', name='Moment of the run')
    deadline = time.monotonic() + WAIT_MS / 1000
    while (value := float(slider.get_attribute('aria-valuenow'))) == from_:
        assert time.monotonic() < deadline, f'the slider stayed at {from_} s'
        page.wait_for_timeout(20)  # polling a real browser
    expect(page.locator('.replay-time')).to_have_text(f'{value:,.1f} s of {end:,.1f} s', timeout=WAIT_MS)
    return value


def _share(page) -> str:
    page.get_by_role('button', name='Share a link to this moment').click()
    link = page.locator('.replay-link')
    expect(link).to_have_text(re.compile(r'^Link copied: '), timeout=WAIT_MS)
    return link.inner_text().removeprefix('Link copied: ')


def _shared_moment(page, server: Server) -> float:
    """The moment the page shows, exactly: from the link Share gives."""
    link = _share(page)
    assert link.startswith(f'{server.base}/runs/1?at='), link
    return float(link.split('?at=')[1])
