"""One real Chromium page on the board: time to the grid, main-thread CPU, and when each card on screen changed."""
from __future__ import annotations

import time
from typing import Any

from playwright.async_api import Browser

GRID_TIMEOUT_MS = 120_000

# Records [Date.now(), task, percent] whenever a card shows a new percent. The percents shown when it is installed
# are the baseline, so every record is a real change seen by the page.
OBSERVE_JS = '''() => {
  const grid = document.querySelector('.task-grid');
  const parse = card => {
    const text = card.textContent;
    const num = /#(\\d+)/.exec(text), pct = /(\\d+)%/.exec(text);
    return num && pct ? [Number(num[1]), Number(pct[1])] : null;
  };
  const shown = new Map();
  for (const card of grid.querySelectorAll('.task-card')) {
    const seen = parse(card);
    if (seen) shown.set(seen[0], seen[1]);
  }
  window.__bench = [];
  const observer = new MutationObserver(records => {
    const now = Date.now();
    const cards = new Set();
    for (const record of records) {
      const target = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const card = target && target.closest('.task-card');
      if (card) cards.add(card);
      for (const node of record.addedNodes) {
        if (node.nodeType === 1 && node.classList.contains('task-card')) cards.add(node);
      }
    }
    for (const card of cards) {
      const seen = parse(card);
      if (seen && shown.get(seen[0]) !== seen[1]) {
        shown.set(seen[0], seen[1]);
        window.__bench.push(now, seen[0], seen[1]);
      }
    }
  });
  observer.observe(grid, {childList: true, subtree: true, characterData: true});
  window.__benchObserver = observer;
  return shown.size;
}'''

TASKS_IN_DOM_JS = '''() => [...document.querySelectorAll('.task-grid .task-card')].map(card => {
  const num = /#(\\d+)/.exec(card.textContent); return num ? Number(num[1]) : -1; }).filter(i => i >= 0)'''
SEEN_JS = '''() => `${document.querySelectorAll('.task-card').length} cards, ` +
  `page text: ${JSON.stringify(document.body.innerText.slice(0, 160))}`'''
# The grid is drawn when every card is in the DOM, or (for a grid that keeps only the cards on screen in the DOM)
# when its cards fill the viewport and belong to a grid of n tasks (the grid's data-count; before 0.3, aria-setsize).
FULL_GRID_JS = '''n => {
  const cards = document.querySelectorAll('.task-grid .task-card');
  if (!cards.length) return false;
  const size = document.querySelector('.task-grid').dataset.count || cards[0].getAttribute('aria-setsize'); // or older
  const done = cards.length >= n || (Number(size) === n &&
    cards[cards.length - 1].getBoundingClientRect().bottom >= window.innerHeight);
  return done ? {ms: performance.now(), cards: cards.length} : false;
}'''


async def open_board(browser: Browser, url: str, tasks: int) -> dict[str, Any]:
    """Open the board; returns the page objects and the time from navigation start to all cards in the DOM."""
    context = await browser.new_context(viewport={'width': 1280, 'height': 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on('console', lambda message: errors.append(message.text) if message.type == 'error' else None)
    page.on('pageerror', lambda error: errors.append(str(error)))
    cdp = await context.new_cdp_session(page)
    await cdp.send('Performance.enable')
    began = time.time()
    await page.goto(url, wait_until='commit', timeout=GRID_TIMEOUT_MS)
    try:
        handle = await page.wait_for_function(FULL_GRID_JS, arg=tasks, polling=50, timeout=GRID_TIMEOUT_MS)
    except Exception as error:
        seen = await page.evaluate(SEEN_JS)
        await context.close()
        raise RuntimeError(f'no full grid after {GRID_TIMEOUT_MS / 1000:.0f} s: {seen}; '
                           f'console errors: {errors[:3]}') from error
    grid = await handle.json_value()
    return {'context': context, 'page': page, 'cdp': cdp, 'errors': errors, 'grid_s': grid['ms'] / 1000,
            'grid_wall_s': time.time() - began, 'cards_in_dom': grid['cards']}


async def main_thread_seconds(cdp: Any) -> dict[str, float]:
    metrics = (await cdp.send('Performance.getMetrics'))['metrics']
    return {m['name']: m['value'] for m in metrics if m['name'] in {'TaskDuration', 'ScriptDuration',
                                                                      'LayoutDuration', 'RecalcStyleDuration'}}


async def start_observing(page: Any) -> int:
    return await page.evaluate(OBSERVE_JS)


async def samples(page: Any) -> list[tuple[float, int, int]]:
    flat = await page.evaluate('() => { window.__benchObserver.disconnect(); return window.__bench; }')
    return [(flat[i] / 1000, int(flat[i + 1]), int(flat[i + 2])) for i in range(0, len(flat), 3)]


async def shown_percents(page: Any) -> dict[int, int]:
    """The percent every running card shows now."""
    pairs = await page.evaluate('''() => [...document.querySelectorAll('.task-grid .task-card')].map(card => {
      const num = /#(\\d+)/.exec(card.textContent), pct = /(\\d+)%/.exec(card.textContent);
      return num && pct ? [Number(num[1]), Number(pct[1])] : null; }).filter(Boolean)''')
    return {task: pct for task, pct in pairs}
