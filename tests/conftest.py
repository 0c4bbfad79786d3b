"""Fixtures: a fake clock, a fresh simulator per test, and a simulated browser user on a board of its own."""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nicegui import core
from nicegui.testing import User, user_simulation

from taskdemo.api import install_api, install_error_handlers
from taskdemo.control import LocalCommands
from taskdemo.history import SqliteHistory
from taskdemo.recorder import Recorder
from taskdemo.settings import RunSettings, Settings
from taskdemo.simulator import Simulator
from taskdemo.store import Store
from taskdemo.ui.grid import TaskGrid
from taskdemo.ui.page import create_root

from .helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_sim(clock: FakeClock) -> Callable[..., Simulator]:
    def make(**settings) -> Simulator:
        return Simulator(RunSettings(**settings), clock=clock, rng=random.Random(1234))
    return make


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    """50 tasks of 30-120 s at speed 1, as the seed; seeded so that every test sees the same run."""
    return make_sim(seed=7)


@pytest.fixture
async def user(sim: Simulator, caplog: pytest.LogCaptureFixture) -> AsyncIterator[User]:
    """A simulated browser on a board that shows `sim`. Time moves only through `sim.step(dt)`."""
    async with user_simulation(root=create_root(sim, LocalCommands(sim))) as simulated:
        yield simulated
        # let the page send what it has left: updates left queued make the app's teardown cancel its outbox as they
        # wake it, and Python 3.11's wait_for then drops the cancellation, so the teardown waits 2 s in vain
        for _ in range(5):
            await asyncio.sleep(0)
    errors = [record for record in caplog.get_records('call') if record.levelno >= logging.ERROR]
    assert not errors, f'errors were logged: {[record.getMessage() for record in errors]}'


@pytest.fixture
def another_user(user: User) -> Callable[[], User]:
    """More browsers on the same board (call it once per extra tab)."""
    def make() -> User:
        return User(httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://test'))
    return make


@pytest.fixture
async def recorded(sim: Simulator, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder]]:
    """The API of `sim` with a store (the last 5 runs) in `tmp_path`, and its recorder."""
    recorder = Recorder(sim, Store(tmp_path, keep_runs=5))
    app = FastAPI()
    install_api(app, sim, Settings(), history=SqliteHistory(recorder))
    install_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        yield client, recorder
    recorder.close()


@pytest.fixture
def grid_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple]]:
    """What the server asks the browser's grid to do, in order: (`run_method` name, arguments). What the browser
    then draws is tested against the real task_grid.js in Chromium (tests/e2e/test_grid.py)."""
    calls: list[tuple[str, tuple]] = []
    original = TaskGrid.run_method

    def record(grid: TaskGrid, name: str, *args, **kwargs):
        calls.append((name, args))
        return original(grid, name, *args, **kwargs)

    monkeypatch.setattr(TaskGrid, 'run_method', record)
    return calls
