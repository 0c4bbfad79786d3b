"""Filter the grid by state, with live counts: All, Running, Completed, Failed (and Cancelled, Interrupted and
Pending when there are any)."""
from __future__ import annotations

from nicegui import events, ui

from ..model import COUNT_FIELD
from ..simulator import Simulator, TaskStatus
from .grid import TaskGrid
from .states import CODES, WORDS

ALWAYS = (TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.FAILED)
WHEN_PRESENT = (TaskStatus.PENDING, TaskStatus.CANCELLED, TaskStatus.INTERRUPTED)


class FilterChips:
    def __init__(self, sim: Simulator, grid: TaskGrid) -> None:
        self._sim = sim
        self._grid = grid
        self._options = self._current_options('all')
        self._toggle = ui.toggle(self._options, value='all', on_change=self._choose) \
            .props('no-caps unelevated rounded aria-label="Show tasks"').classes('filters-toggle').mark('filters')

    def update(self) -> None:
        options = self._current_options(self._toggle.value)
        if options != self._options:
            self._options = options
            self._toggle.set_options(options, value=self._toggle.value if self._toggle.value in options else 'all')

    def _current_options(self, chosen: str | None) -> dict[str, str]:
        counts = self._sim.counts
        options = {'all': f'All {self._sim.total}'}
        for status in ALWAYS + WHEN_PRESENT:
            count = getattr(counts, COUNT_FIELD[status])
            if status in ALWAYS or count or chosen == status.value:
                options[status.value] = f'{WORDS[status]} {count}'
        return options

    def _choose(self, event: events.ValueChangeEventArguments) -> None:
        self._grid.show_only([] if event.value in {None, 'all'} else [CODES[TaskStatus(event.value)]])
