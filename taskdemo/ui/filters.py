"""Filter the grid by state, with live counts: All, Running, Completed, Failed (and Stalled, Cancelled, Interrupted
and Pending when there are any). A chip that was shown during a run stays until the run ends, even at 0, so that
the row does not jump; a filter that matches nothing says so where the cards would be.

Stalled is a flag of running tasks, not a state: its chip, after Running, shows the stalled tasks (the grid knows
them by a code no state has), with the count the pages' model has of them (`RunModel.stalled`)."""
from __future__ import annotations

from nicegui import events, ui

from ..model import COUNT_FIELD, TaskStatus
from ..view import RunView
from .grid import TaskGrid
from .run_model import RunModel
from .states import CODES, STALLED_CODE, STALLED_WORD, WORDS

ALWAYS = (TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.FAILED)
WHEN_PRESENT = (TaskStatus.PENDING, TaskStatus.CANCELLED, TaskStatus.INTERRUPTED)
STALLED = 'stalled'  # the Stalled chip's value
PENDING = TaskStatus.PENDING.value
ORDER = (TaskStatus.RUNNING.value, STALLED, *(status.value for status in ALWAYS[1:] + WHEN_PRESENT))  # the chips
SHOWN_ALWAYS = {status.value for status in ALWAYS}


class FilterChips:
    def __init__(self, sim: RunView, grid: TaskGrid, model: RunModel, *, sticky: bool = True) -> None:
        """`sticky`: a chip shown during a run stays until it ends. A replayed board has no such memory (a scrub
        back and forth must not leave chips behind): its chips are those of the moment, and Pending while the run
        is going, as a page that watched it from its start keeps it (every task waits at first)."""
        self._sim = sim
        self._sticky = sticky
        self._grid = grid
        self._model = model
        self._kept: set[str] = set()  # chips shown since before the run started: they stay until it ends
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
        options = {'all': f'All {self._sim.total:,}'}
        if self._was_active and not self._sim.active:
            self._kept.clear()  # the run ended: chips at 0 may go
        self._was_active = self._sim.active
        kept = self._kept if self._sticky else {PENDING} if self._sim.active else set()
        for value in ORDER:
            count = self._count(value)
            if value in SHOWN_ALWAYS or count or chosen == value or value in kept:
                options[value] = f'{_word(value)} {count:,}'
                self._kept.add(value)
        return options

    def _choose(self, event: events.ValueChangeEventArguments) -> None:
        value = event.value
        self._grid.show_only([] if value in {None, 'all'} else
                             [STALLED_CODE] if value == STALLED else [CODES[TaskStatus(value)]])
        self._say_if_empty()

    def _say_if_empty(self) -> None:
        chosen = self._toggle.value
        empty = chosen not in {None, 'all'} and self._count(chosen) == 0
        self._empty.visible = empty
        if empty:
            self._empty.text = f'No {_word(chosen).lower()} tasks'

    def _count(self, value: str) -> int:
        return self._model.stalled if value == STALLED else getattr(self._sim.counts, COUNT_FIELD[TaskStatus(value)])


def _word(value: str) -> str:
    return STALLED_WORD if value == STALLED else WORDS[TaskStatus(value)]
