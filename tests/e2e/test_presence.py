"""Who is watching, in Chromium (issue 17): two real tabs see each other in the header's count at once, a `/ws`
listener counts too, and a closed tab is gone from the count of the other."""
from __future__ import annotations

import httpx
from playwright.sync_api import expect
from websockets.sync.client import connect

WAIT_MS = 10_000


def test_tabs_and_listeners_are_counted_live_and_a_closed_tab_leaves_the_count(browser, start_server):
    server = start_server('--tasks', '20')
    context = browser.new_context(viewport={'width': 1280, 'height': 800})
    first = context.new_page()
    first.goto(server.base)
    expect(first.locator('.watching')).to_contain_text('1 watching', timeout=WAIT_MS)
    second = context.new_page()
    second.goto(server.base)
    for page in (first, second):
        expect(page.locator('.watching')).to_contain_text('2 watching', timeout=WAIT_MS)
    names = {page.locator('.watching-tab').inner_text() for page in (first, second)}
    assert len(names) == 2 and all(name.startswith('· tab ') for name in names), names
    with connect(server.base.replace('http', 'ws') + '/ws', open_timeout=10) as listener:
        listener.recv(timeout=10)
        expect(first.locator('.watching')).to_contain_text('3 watching', timeout=WAIT_MS)
        assert httpx.get(f'{server.base}/status').json()['viewers'] == {'pages': 2, 'streams': 1, 'total': 3}
    expect(first.locator('.watching')).to_contain_text('2 watching', timeout=WAIT_MS)
    second.close()
    expect(first.locator('.watching')).to_contain_text('1 watching', timeout=WAIT_MS)  # its socket closed
    assert httpx.get(f'{server.base}/status').json()['viewers'] == {'pages': 1, 'streams': 0, 'total': 1}
    context.close()
