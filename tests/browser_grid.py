"""A mirror of what a browser's grid holds, for tests in NiceGUI's simulated browser (see the `browser_grids`
fixture in conftest.py)."""
from __future__ import annotations

from nicegui.testing import User

from taskdemo.simulator import Simulator
from taskdemo.ui.grid import TaskGrid
from taskdemo.ui.grid_wire import PROGRESS_BITS
from taskdemo.ui.states import CODES

from .test_grid_wire import decode


class BrowserGrid:
    """What a browser's grid holds: the snapshot it got, with every batch sent since applied (as task_grid.js
    does). Lets a simulated user check the cards without a real browser."""

    def __init__(self, grid: TaskGrid) -> None:
        self.grid = grid
        self.cards = [list(entry[:2]) for entry in decode(grid.props['snapshot'])]

    def apply(self, batch: dict) -> None:
        for packed in batch['p']:
            self.cards[packed >> PROGRESS_BITS][1] = packed & 127
        for task_id, code, progress, *_ in batch['s']:
            self.cards[task_id] = [code, progress]

    def matches(self, sim: Simulator, shown: range) -> bool:
        return all(self.cards[i] == [CODES[sim.tasks[i].status], sim.tasks[i].progress] for i in shown)


def watch_grid(user: User, grids: list[BrowserGrid]) -> BrowserGrid:
    mirror = BrowserGrid(user.find(TaskGrid).elements.pop())
    grids.append(mirror)
    return mirror
