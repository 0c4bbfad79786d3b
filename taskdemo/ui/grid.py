"""The grid of task cards: one element of our own (task_grid.js) for any number of tasks."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import events, ui

from ..model import Change
from ..view import RunView
from .fanout import Stalls
from .grid_wire import Columns, batch, columns, patch, range_batch, whole
from .states import STALLED_BADGE, STATE_TABLE

DRAW_ALL_UP_TO = 500  # as in task_grid.js: up to this many tasks every card is in the page
SMALL_GRID_MAX = 50  # up to this many tasks: 5 columns on narrow screens, 10 from 768 px


class TaskGrid(ui.element, component='task_grid.js', dependencies=['grid_keys.js', 'grid_cards.js']):
    def __init__(self, sim: RunView, *, on_open: Callable[[int], None] = lambda _: None, anchor: str = 'tasks') -> None:
        """`anchor`: the grid's id in the page, which the skip link goes to (one per grid shown at a time)."""
        super().__init__()
        self._sim = sim
        self._on_open = on_open
        self.filter: list[int] = []  # state codes this page shows; empty: all
        self.shown: range | set[int] = range(0)  # the tasks the browser has on screen, as it last told us
        self._props['states'] = STATE_TABLE
        self._props['stall'] = STALLED_BADGE
        self._props['anchor'] = anchor
        self.on('range', self._handle_range)
        self.on('open', self._handle_open)
        self.on('resync', lambda: self.update())  # a patch that found another snapshot: the whole one again
        self._sent: Columns | None = None  # the columns of the snapshot in the props
        self.rebuild()

    def rebuild(self) -> None:
        """Send everything again: a new run or a reset, when even the number of tasks may have changed."""
        self._load()
        self.update()

    def redraw(self) -> None:
        """Another moment of the same run (a replay's scrub): the props hold the whole snapshot, as for a page that
        draws the grid anew, but the browser gets only what differs from the one it has (`grid_wire.patch`)."""
        before, key = self._sent, self._props['snapshot']['key']
        self._load()
        if before is None or self._sent is None or len(before.codes) != len(self._sent.codes):
            self.update()
        else:
            self.run_method('load', {**patch(before, self._sent), 'key': self._props['snapshot']['key'], 'base': key})

    def _load(self) -> None:
        """The snapshot of the view now into the props, without sending them (NiceGUI's props send themselves when
        set: `rebuild` sends them, `redraw` a patch)."""
        total = self._sim.total
        self.shown = range(0, min(total, DRAW_ALL_UP_TO))
        self._sent = columns(self._sim)
        with self._props.suspend_updates():
            self._props['snapshot'] = {**whole(self._sent), 'key': self._sim.version}
            self._props['small'] = total <= SMALL_GRID_MAX

    def apply(self, change: Change, stalls: Stalls | None = None) -> None:
        """Send what this change changed in the tasks on screen, and every status and stall change."""
        if change.structure:
            self.rebuild()
        elif (data := batch(self._sim, change, self.shown, stalls)) is not None:
            self.run_method('apply', data)

    def show_only(self, codes: list[int]) -> None:
        """Show only the tasks in these states (state codes, `STALLED_CODE` for the stalled tasks); an empty list
        shows all."""
        self.filter = codes
        self.run_method('showOnly', codes)

    def _handle_range(self, event: events.GenericEventArguments) -> None:
        """The browser tells which tasks it shows: a range of ids, or (filtered) a list of them."""
        total = self._sim.total
        try:
            if 'ids' in event.args:
                shown: range | set[int] = {int(i) for i in event.args['ids'] if 0 <= int(i) < total}
            else:
                low, high = int(event.args['lo']), int(event.args['hi'])
                shown = range(max(0, min(low, total)), max(0, min(high, total)))
        except (KeyError, TypeError, ValueError):
            return  # not from our component; nothing to do
        self.shown = shown
        self.run_method('apply', range_batch(self._sim, sorted(shown)))

    def _handle_open(self, event: events.GenericEventArguments) -> None:
        """A card was clicked, or Enter pressed on it."""
        try:
            task_id = int(event.args['id'])
        except (KeyError, TypeError, ValueError):
            return
        if 0 <= task_id < self._sim.total:
            self._on_open(task_id)
