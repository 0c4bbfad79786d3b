"""Dropped connections: the page recovers by itself, from a network blip and from a server restart."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..helpers import Server
from .conftest import E2E_SPEED, status

RECOVERY_MS = 15_000


def completed_shown(page) -> int:
    return int(page.get_by_text(re.compile(r'^Completed: \d+$')).inner_text().split(': ')[1])


def test_a_page_offline_for_a_second_mid_run_catches_up_by_itself(open_page, board):
    page = open_page()
    page.get_by_role('button', name='Start Process').click()
    expect(page.get_by_text(re.compile(r'^Running: [1-9]'))).to_be_visible()
    page.context.set_offline(True)
    page.wait_for_timeout(1_000)  # the scenario itself: one real second without a network
    missed = status(board)['completed']
    page.context.set_offline(False)
    expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=RECOVERY_MS)
    final = status(board)
    assert final['state'] == 'completed'
    expect(page.get_by_text(f"Completed: {final['completed']}", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Failed: {final['failed']}", exact=True)).to_be_visible()
    assert completed_shown(page) >= missed


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory):
    server = Server('--speed', E2E_SPEED, log_dir=tmp_path_factory.mktemp('restart'))
    server.start()
    yield server
    server.stop()


def test_after_a_server_restart_the_page_recovers_without_a_reload(browser, own_server):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(own_server.base)
        page.get_by_role('button', name='Start Process').click()
        expect(page.get_by_role('button', name='Processing...')).to_be_visible()
        page.wait_for_function("() => sessionStorage.getItem('taskdemo-seen') !== null")  # it has seen the run
        own_server.stop(kill=True)
        expect(page.get_by_role('button', name='Processing...')).to_be_visible()  # the old state, disconnected
        own_server.start()
        # the restarted server brings the run back, cut off: the page must show that, and offer to resume it
        expect(page.get_by_role('button', name='Resume')).to_be_enabled(timeout=RECOVERY_MS)
        expect(page.get_by_role('button', name='Start over')).to_be_enabled()
        expect(page.get_by_text(re.compile(r'^Interrupted: [1-9]'))).to_be_visible()
        # the page NiceGUI reloaded once the server was back tells what its page before missed
        digest = page.locator('.digest')
        expect(digest).to_contain_text(re.compile(r'Run 1 was interrupted: .*Resume goes on with it\.'))
        page.get_by_role('button', name='Resume').click()
        expect(page.get_by_role('button', name='Processing...')).to_be_disabled()
        expect(page.get_by_role('button', name='Completed! Start over?')).to_be_visible(timeout=RECOVERY_MS)
    finally:
        context.close()
