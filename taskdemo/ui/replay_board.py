"""The replayed board: what a page shows in place of the live board while it replays a moment of a run.

It is the board's own parts (the progress bar and counters, the failure groups, the filter chips, the grid, a task's
details) made once, the first time the page replays, on `Shown`: a stand-in for the live view that reads whatever
moment it holds. A scrub puts another moment in and redraws: the grid through a patch of its snapshot (one message, no
new elements), the rest by their own `update`. The shared model of the live run (`Fanout.model`), which every page binds
to, is never touched: this board has a `RunModel` of its own.

Nothing on it changes the run: no Start, Cancel or Retry (the failure groups have no Retry these, a task's details
have no actions), so a page replaying an old run cannot act on the live one by mistake.
"""
from __future__ import annotations

from typing import Any

from nicegui import ui

from ..replay import Moment
from .details import TaskDetails
from .filters import FilterChips
from .grid import TaskGrid
from .progress import RunProgress
from .run_model import RunModel
from .summary import RunSummary

ANCHOR = 'replay-tasks'  # the replayed grid's id, where the skip link goes while the page replays


class Shown:
    """The moment a page replays, read as a `RunView`: the replayed board's parts keep this one object, and read
    whatever moment it holds now. (Weakly referable and hashable by identity, as the ETA cache needs.)"""

    def __init__(self, moment: Moment) -> None:
        self.moment = moment

    def __getattr__(self, name: str) -> Any:
        return getattr(self.moment, name)


class ReplayBoard:
    def __init__(self, moment: Moment, *, header: ui.element, body: ui.element) -> None:
        """The header's part (the bar and counters) goes into `header`; the rest into `body`."""
        self.shown = Shown(moment)
        self.model = RunModel()
        self.model.follow(self.shown, stalled=len(moment.stalled_ids))  # type: ignore[arg-type]
        shown: Any = self.shown
        with header:
            self.progress = RunProgress(shown, self.model, narrate=False)
        with body:
            self.details = TaskDetails(shown, ticking=False)
            self.summary = RunSummary(shown, on_open=self.details.open, replayed=True)
            filters_row = ui.row().classes('w-full')
            self.grid = TaskGrid(shown, on_open=self.details.open, anchor=ANCHOR).mark('replay-grid')
            with filters_row:
                self.filters = FilterChips(shown, self.grid, self.model, sticky=False)

    def show(self, moment: Moment) -> None:
        """Redraw the whole board as it was at `moment`."""
        self.shown.moment = moment
        self.model.follow(self.shown, stalled=len(moment.stalled_ids))  # type: ignore[arg-type]
        self.grid.redraw()
        self.progress.update()
        self.filters.update()
        self.summary.update()
        if self.details.task_id is not None:  # a task's details, open, follow the moment
            if self.details.task_id < moment.total:
                self.details.update()
            else:  # another run, with fewer tasks
                self.details.close()
