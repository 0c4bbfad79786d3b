"""Real-browser fixtures: Debian's Chromium driven by Playwright against `python main.py` in a subprocess.

Without Chromium or Playwright these tests skip and say why; with CI set they fail instead, so a CI machine that
lost its browser cannot pass by skipping.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ..environment import require
from ..helpers import ROOT, Server

CHROMIUM = os.environ.get('TASKDEMO_CHROMIUM', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run']
SCREENSHOTS = ROOT / 'artifacts' / 'screenshots'
E2E_SPEED = '30'  # tasks of 30-120 simulated seconds take 1-4 s: long enough to watch, short enough to finish


def browser_missing() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed: pip install -e '.[test]'"
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        return f'no Chromium at {CHROMIUM}: apt-get install chromium (or set TASKDEMO_CHROMIUM)'
    return None


@contextlib.contextmanager
def launched_chromium() -> Iterator[object]:
    """Debian's Chromium through Playwright's sync API (skips, or fails in CI, when either is missing)."""
    require(browser_missing())
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope='package')
def browser():
    with launched_chromium() as browser:
        yield browser


@pytest.fixture(scope='package')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One board for the browser tests; each test starts from a reset."""
    with Server('--speed', E2E_SPEED, '--seed', '11', log_dir=tmp_path_factory.mktemp('e2e')) as running:
        yield running
    assert 'Traceback' not in running.log(), running.log()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Servers of a test's own, for what the shared board must not see: `start_server('--tasks', '2000')`."""
    servers: list[Server] = []

    def start(*args: str) -> Server:
        servers.append(Server(*args, log_dir=tmp_path).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
        assert 'Traceback' not in server.log(), server.log()


E2E_SETTINGS = {'tasks': 50, 'failure_rate': 0.2, 'min_duration': 30, 'max_duration': 120, 'speed': float(E2E_SPEED),
                'seed': 11, 'concurrency': 0, 'stall_rate': 0.0, 'task_timeout': None}


def use_settings(server: Server, **settings: object) -> None:
    """Put these settings in force on the shared board without a run going: a start with them, then a reset."""
    assert httpx.post(f'{server.base}/reset').status_code == 200
    assert httpx.post(f'{server.base}/start', json={**E2E_SETTINGS, **settings}).status_code == 200
    assert httpx.post(f'{server.base}/reset').status_code == 200


@pytest.fixture
def board(server: Server) -> Server:
    """The shared board, reset, with the e2e settings in force (whatever the test before left)."""
    use_settings(server)
    return server


@pytest.fixture
def open_page(browser, board: Server) -> Iterator[Callable[..., object]]:
    """Open the board in a fresh browser context: `open_page(width=375, height=667, color_scheme='dark')`."""
    contexts = []

    def open_(width: int = 1280, height: int = 900, color_scheme: str = 'light', path: str = '/'):
        context = browser.new_context(viewport={'width': width, 'height': height}, color_scheme=color_scheme)
        contexts.append(context)
        page = context.new_page()
        page.goto(board.base + path)
        page.locator('.task-grid .task-card').first.wait_for()
        return page

    yield open_
    for context in contexts:
        context.close()


def status(server: Server) -> dict:
    return httpx.get(f'{server.base}/status').json()


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f'{name}.png'
    page.screenshot(path=path, full_page=full_page)
    return path
