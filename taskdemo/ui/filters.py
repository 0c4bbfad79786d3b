"""Filter the grid by state, with live counts: All, Running, Completed, Failed (and Cancelled, Interrupted and
Pending when there are any). A chip that was shown during a run stays until the run ends, even at 0, so that the
row does not jump; a filter that matches nothing says so where the cards would be."""
from __future__ import annotations

from nicegui import events, ui

from ..model import COUNT_FIELD, TaskStatus
from ..view import RunView
from .grid import TaskGrid
from .states import CODES, WORDS

ALWAYS = (TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.FAILED)
WHEN_PRESENT = (TaskStatus.PENDING, TaskStatus.CANCELLED, TaskStatus.INTERRUPTED)


class FilterChips:
    def __init__(self, sim: RunView, grid: TaskGrid) -> None:
        self._sim = sim
        self._grid = grid
        self._kept: set[TaskStatus] = set()  # chips shown since before the run started: they stay until it ends
        self._was_active = sim.active
        self._options = self._current_options('all')
        self._toggle = ui.toggle(self._options, value='all', on_change=self._choose) \
            .props('no-caps unelevated rounded aria-label="Show tasks"').classes('filters-toggle').mark('filters')
        self._empty = ui.label().classes('grid-empty w-full text-sm').props('role=status').mark('filter-empty')
        self._empty.visible = False

    def update(self) -> None:
        options = self._current_options(self._toggle.value)
        if options != self._options:
            self._options = options
            self._toggle.set_options(options, value=self._toggle.value if self._toggle.value in options else 'all')
        self._say_if_empty()

    def _current_options(self, chosen: str | None) -> dict[str, str]:
        counts = self._sim.counts
        options = {'all': f'All {self._sim.total:,}'}
        if self._was_active and not self._sim.active:
            self._kept.clear()  # the run ended: chips at 0 may go
        self._was_active = self._sim.active
        for status in ALWAYS + WHEN_PRESENT:
            count = getattr(counts, COUNT_FIELD[status])
            if status in ALWAYS or count or chosen == status.value or status in self._kept:
                options[status.value] = f'{WORDS[status]} {count:,}'
                self._kept.add(status)
        return options

    def _choose(self, event: events.ValueChangeEventArguments) -> None:
        self._grid.show_only([] if event.value in {None, 'all'} else [CODES[TaskStatus(event.value)]])
        self._say_if_empty()

    def _say_if_empty(self) -> None:
        chosen = self._toggle.value
        empty = chosen not in {None, 'all'} and getattr(self._sim.counts, COUNT_FIELD[TaskStatus(chosen)]) == 0
        self._empty.visible = empty
        if empty:
            self._empty.text = f'No {WORDS[TaskStatus(chosen)].lower()} tasks'
