"""Fixtures: a fake clock, a fresh simulator per test, and a simulated browser user on a board of its own."""
from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from nicegui import core
from nicegui.testing import User, user_simulation

from taskdemo.control import LocalCommands
from taskdemo.settings import RunSettings
from taskdemo.simulator import Simulator
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
    errors = [record for record in caplog.get_records('call') if record.levelno >= logging.ERROR]
    assert not errors, f'errors were logged: {[record.getMessage() for record in errors]}'


@pytest.fixture
def another_user(user: User) -> Callable[[], User]:
    """More browsers on the same board (call it once per extra tab)."""
    def make() -> User:
        return User(httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://test'))
    return make


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
