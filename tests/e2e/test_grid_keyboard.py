"""The grid from the keyboard and what its cards say, in Chromium: a WAI-ARIA grid with one tab stop, cards that
explain themselves (a failed card's percent and error, a completed card's duration), one real tooltip shown on
focus, and no stale "0 %" after a jump through a large grid."""
from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import expect

from .conftest import screenshot, status, use_settings

RUN_TIMEOUT_MS = 20_000
FOCUSED = '''() => { const card = document.activeElement.closest('.task-card');
  return card ? Number(card.dataset.task) : null; }'''
COLUMNS = '''() => { const cards = [...document.querySelectorAll('.task-grid .task-card')];
  const top = cards[0].getBoundingClientRect().top;
  return cards.filter((card) => Math.abs(card.getBoundingClientRect().top - top) < 1).length; }'''
TIP = '.q-tooltip.task-tip'
UNCOVERED = '''() => { const card = document.activeElement; const box = card.getBoundingClientRect();
  const x = box.left + box.width / 2;
  return [box.top + 2, box.bottom - 2].every((y) => card.contains(document.elementFromPoint(x, y))); }'''


def test_arrow_keys_move_through_the_grid_which_is_one_tab_stop(open_page):
    page = open_page()
    assert page.locator('.task-grid .task-card[tabindex="0"]').count() == 1, 'one tab stop: the active card'
    _tab_into_grid(page)
    assert page.evaluate(FOCUSED) == 0
    columns = page.evaluate(COLUMNS)
    assert columns == 10
    moves = [('ArrowRight', 1), ('ArrowDown', 1 + columns), ('End', 2 * columns - 1), ('Home', columns),
             ('ArrowUp', 0), ('ArrowLeft', 0), ('Control+End', 49), ('ArrowDown', 49), ('Control+Home', 0)]
    for key, expected in moves:
        page.keyboard.press(key)
        assert page.evaluate(FOCUSED) == expected, f'{key} should focus task {expected}'
    page.keyboard.press('ArrowRight')
    assert page.locator('.task-grid .task-card[tabindex="0"]').get_attribute('data-task') == '1'

    page.keyboard.press('Tab')  # out of the grid in one press
    assert page.evaluate(FOCUSED) is None
    assert page.evaluate("() => !document.activeElement.closest('.task-grid')")
    assert page.evaluate('document.activeElement !== document.body'), 'Tab went on to the next control'
    page.keyboard.press('Shift+Tab')  # and back to the card last active
    assert page.evaluate(FOCUSED) == 1


def test_a_skip_link_to_the_grid_lands_on_the_active_card(open_page):
    page = open_page()
    grid = page.locator('#tasks')
    expect(grid).to_have_attribute('role', 'grid')
    expect(grid).to_have_attribute('aria-rowcount', '5')
    page.evaluate('''() => { const link = document.createElement('a'); link.href = '#tasks';
      link.textContent = 'Skip to tasks'; link.id = 'skip'; document.body.prepend(link); }''')
    page.locator('#skip').focus()
    page.keyboard.press('Enter')
    page.wait_for_function(f'() => ({FOCUSED})() === 0')


def test_enter_opens_the_details_and_escape_gives_focus_back_to_that_card(open_page, board):
    use_settings(board, max_duration=600)  # tasks of 1-20 s: the cards change while the dialog is open
    page = open_page()
    page.get_by_role('button', name='Start Process').click()
    _tab_into_grid(page)
    for _ in range(3):
        page.keyboard.press('ArrowRight')
    page.keyboard.press('Enter')
    heading = page.get_by_role('heading', name=re.compile(r'^. Task 3: '))
    expect(heading).to_be_visible()
    page.keyboard.press('Escape')
    expect(heading).to_be_hidden()
    page.wait_for_function(f'() => ({FOCUSED})() === 3')
    page.keyboard.press('ArrowDown')
    page.keyboard.press(' ')  # Space opens it too
    expect(page.get_by_role('heading', name=re.compile(r'^. Task 13: '))).to_be_visible()
    page.keyboard.press('Escape')
    page.wait_for_function(f'() => ({FOCUSED})() === 13')


def test_the_keyboard_reaches_cards_not_drawn_yet_in_a_large_grid(browser, start_server):
    server = start_server('--tasks', '2000', '--seed', '5')
    page = browser.new_page(viewport={'width': 1280, 'height': 900})
    try:
        page.goto(server.base)
        page.locator('.task-grid .task-card').first.wait_for()
        assert page.locator('.task-card[data-task="1999"]').count() == 0, 'the last card is not drawn yet'
        _tab_into_grid(page)
        page.keyboard.press('Control+End')
        page.wait_for_function(f'() => ({FOCUSED})() === 1999')
        expect(page.locator('.task-card[data-task="1999"]')).to_be_in_viewport()
        columns = page.evaluate(COLUMNS)
        page.keyboard.press('PageUp')
        moved = 1999 - page.evaluate(FOCUSED)
        assert moved % columns == 0 and moved >= 5 * columns, f'a screenful of rows up: {moved / columns} rows'
        for _ in range(12):  # up row by row, under where a sticky header may be: the card stays in sight
            page.keyboard.press('ArrowUp')
            assert page.evaluate(UNCOVERED), f'task {page.evaluate(FOCUSED)} is hidden behind something'
        page.keyboard.press('Control+Home')
        page.wait_for_function(f'() => ({FOCUSED})() === 0')
        expect(page.locator('.task-card[data-task="0"]')).to_be_in_viewport()
        assert page.locator('.task-grid .task-card').count() < 400, 'still only the rows on screen are drawn'
    finally:
        page.close()


def test_with_a_filter_on_the_arrows_move_among_the_listed_tasks(open_page, board):
    page = open_page()
    page.get_by_role('button', name='Start Process').click()
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=RUN_TIMEOUT_MS)
    now = status(board)
    failed = sorted(int(key) for key, entry in now['individual'].items() if entry['status'] == 'failed')
    assert len(failed) >= 3, 'this seed fails a few tasks'
    page.get_by_role('button', name=f'Failed {len(failed)}', exact=True).click()
    expect(page.locator('.task-grid .task-card')).to_have_count(len(failed))
    _tab_into_grid(page)
    assert page.evaluate(FOCUSED) == failed[0]
    page.keyboard.press('ArrowRight')
    assert page.evaluate(FOCUSED) == failed[1]
    page.keyboard.press('Control+End')
    assert page.evaluate(FOCUSED) == failed[-1]


def test_a_failed_card_shows_how_far_it_got_and_its_error_and_a_completed_card_its_duration(open_page, board):
    page = open_page()
    page.get_by_role('button', name='Start Process').click()
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=RUN_TIMEOUT_MS)
    tasks = status(board)['individual']
    cards = page.evaluate('''() => [...document.querySelectorAll('.task-grid .task-card')].map((card) => [
      card.dataset.task, card.querySelector('.task-state').textContent, card.querySelector('.task-pct').textContent,
      card.getAttribute('aria-label')])''')
    failed = [card for card in cards if tasks[card[0]]['status'] == 'failed']
    completed = [card for card in cards if tasks[card[0]]['status'] == 'completed']
    assert failed and completed
    for task_id, word, text, label in failed:
        error = tasks[task_id]['error']
        short = error.removeprefix('Simulated failure: ')
        assert word == 'Failed' and text == f'at {tasks[task_id]["progress"]}% · {short}', (task_id, text)
        assert label.startswith(f'Task {task_id}: Failed · {tasks[task_id]["progress"]}%') and error in label
    for task_id, word, text, _label in completed:
        assert word == 'Completed' and re.fullmatch(r'\d+\.\d s', text), (task_id, text)
    # the percent is never cut off, even on a phone: the error gives way (with an ellipsis)
    phone = open_page(width=375, height=667)
    clipped = phone.locator('.task-grid .task-failed .task-pct').evaluate_all(
        '''pcts => pcts.map((pct) => { const range = document.createRange(); range.setStart(pct.firstChild, 0);
          range.setEnd(pct.firstChild, pct.textContent.indexOf('%') + 1);
          return range.getBoundingClientRect().right <= pct.getBoundingClientRect().right + 0.5; })''')
    assert clipped and all(clipped), 'the percent of every failed card shows whole at 375 px'

    card = page.locator('.task-grid .task-failed').first
    card.hover()
    tip = page.locator(TIP)
    expect(tip).to_be_visible()
    task_id = card.get_attribute('data-task')
    expect(tip).to_contain_text(f'Task {task_id}: Failed · {tasks[task_id]["progress"]}%')
    expect(tip).to_contain_text(tasks[task_id]['error'])  # the whole error, prefix and all


def test_a_focused_running_card_shows_a_tooltip_with_its_state_percent_and_eta(open_page, board):
    use_settings(board, max_duration=600)
    page = open_page()
    page.get_by_role('button', name='Start Process').click()
    page.locator('.task-grid .task-in_progress').first.wait_for()
    _tab_into_grid(page)
    page.wait_for_function('''() => [...document.querySelectorAll('.task-grid .task-in_progress')]
      .some((card) => /^[1-9]\\d?%$/.test(card.querySelector('.task-pct').textContent))''')
    running = page.evaluate('''() => [...document.querySelectorAll('.task-grid .task-in_progress')]
      .find((card) => /^[1-9]\\d?%$/.test(card.querySelector('.task-pct').textContent)).dataset.task''')
    page.keyboard.press('Control+Home')
    for _ in range(int(running)):
        page.keyboard.press('ArrowRight')
    assert page.evaluate(FOCUSED) == int(running)
    tip = page.locator(TIP)
    expect(tip).to_be_visible()
    card = page.locator(f'.task-card[data-task="{running}"]')
    text = tip.inner_text()
    shown = re.match(rf'^Task {running}: (\w+) · (\d+)%', text)
    assert shown, text
    if shown[1] == 'Running':
        assert re.search(r'\n\d+\.\d s so far · ETA (\d+ s|estimating)', text), text
    assert page.locator('.q-tooltip').count() == 1, 'one tooltip for the whole grid'
    screenshot(page, 'card-tooltip-on-focus', full_page=False)
    page.keyboard.press('Escape')
    expect(tip).to_be_hidden()
    assert page.evaluate(FOCUSED) == int(running) and card.get_attribute('aria-label').startswith(f'Task {running}: ')


def test_after_a_jump_into_a_large_grid_running_cards_show_their_current_percent(open_page, board):
    use_settings(board, tasks=1000, speed=2, min_duration=60, max_duration=120)  # tasks of 30-60 s
    page = open_page()
    assert httpx.post(f'{board.base}/start').status_code == 200
    middle = [str(i) for i in range(450, 560)]
    deadline = time.monotonic() + 30
    while sum(status(board)['individual'][key]['progress'] >= 20 for key in middle) < 50:
        assert time.monotonic() < deadline, 'the middle tasks never got to 20 %'
        time.sleep(0.1)  # polling a real server that runs in real time
    page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight / 2 - 400)')
    page.wait_for_function('''() => { const cards = [...document.querySelectorAll('.task-grid .task-in_progress')]
      .filter((card) => { const box = card.getBoundingClientRect(); return box.bottom > 0 && box.top < innerHeight; });
      return cards.length >= 20 && cards.every((card) => card.querySelector('.task-pct').textContent !== '…%'); }''',
                           timeout=5_000)
    before = status(board)['individual']
    cards = page.evaluate('''() => [...document.querySelectorAll('.task-grid .task-in_progress')]
      .filter((card) => { const box = card.getBoundingClientRect(); return box.bottom > 0 && box.top < innerHeight; })
      .map((card) => [card.dataset.task, card.querySelector('.task-pct').textContent])''')
    after = status(board)['individual']
    assert min(int(key) for key, _ in cards) > 300, 'the middle of the grid is on screen'
    for key, text in cards:
        percent = int(text.rstrip('%'))
        low = before[key]['progress'] if before[key]['status'] == 'in_progress' else 0
        high = after[key]['progress'] if after[key]['status'] == 'in_progress' else 100
        assert low - 3 <= percent <= high, f'task {key} shows {text}; the server said {low}% then {high}%'
    # the browser follows more than it draws: the cards about to scroll in already have their percent
    followed, drawn = page.evaluate('''() => { const host = document.querySelector('.task-grid').parentElement;
      const grid = getElement(host.id.slice(1)); return [grid.reported, [grid.first, grid.last]]; }''')
    low, high = map(int, followed.split(':')[1:])
    assert low < drawn[0] and high > drawn[1], (followed, drawn)


def test_many_cards_changing_at_once_recolour_without_a_fade(open_page, board):
    use_settings(board, tasks=1000, min_duration=30, max_duration=40, failure_rate=0)  # all finish within 0.3 s
    page = open_page()
    page.evaluate('''() => { const grid = document.querySelector('.task-grid'); window.__settled = [];
      new MutationObserver(() => window.__settled.push([grid.classList.contains('grid-settle'),
        getComputedStyle(grid.querySelector('.task-card')).transitionProperty]))
        .observe(grid, {attributes: true, attributeFilter: ['class']}); }''')
    page.get_by_role('button', name='Start Process').click()
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=RUN_TIMEOUT_MS)
    page.wait_for_function("() => !document.querySelector('.task-grid').classList.contains('grid-settle')")
    seen = page.evaluate('window.__settled')
    assert any(on for on, _ in seen), 'a batch of many finishing tasks switched the fade off'
    assert all('background-color' not in transition for on, transition in seen if on), seen
    assert 'background-color' in page.evaluate(
        "getComputedStyle(document.querySelector('.task-grid .task-card')).transitionProperty"), 'and back on'


def _tab_into_grid(page) -> None:
    for _ in range(40):
        page.keyboard.press('Tab')
        if page.evaluate(FOCUSED) is not None:
            return
    raise AssertionError('Tab never reached the grid')
