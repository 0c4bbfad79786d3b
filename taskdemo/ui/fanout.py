"""The one listener of a view for every page: `Fanout` hears each change, brings the pages' shared read model
(`model`, which their labels and buttons bind to) up to date, and passes the change on to the pages through a
NiceGUI event. The view (the simulator, or a copy of a run advanced elsewhere) thus knows nothing of pages and has
a few listeners, not one per tab.

It also works out, once per change for every page, which tasks began or stopped being stalled (`stalls`): a flag
that changes rarely, read from the view's set of stalled tasks (a few ids), never by a look at every task.

It passes each change on at once, within the code that made it (`Simulator.step`, a command): the board and its
tests see a change as soon as it is made. Deferring the pages' redraw out of the step (`loop.call_soon`) would take
it out of the step's time, but then a page shows a change only after the next turn of the event loop, and every
test that reads the page right after moving the simulator would have to wait for it first.
"""
from __future__ import annotations

from dataclasses import dataclass

from nicegui import Event

from ..model import Change
from ..view import RunView
from .run_model import RunModel


@dataclass(frozen=True)
class Stalls:
    """The stalled tasks after a change (`now`), and the ones that began (`began`) or stopped (`ended`) being
    stalled with it; `moved` says whether either happened."""

    now: frozenset[int] = frozenset()
    began: frozenset[int] = frozenset()
    ended: frozenset[int] = frozenset()

    @property
    def moved(self) -> bool:
        return bool(self.began or self.ended)


class Fanout:
    def __init__(self, view: RunView) -> None:
        self.view = view
        self.stalls = Stalls(now=view.stalled_ids)
        self.model = RunModel()
        self.model.follow(view, stalled=len(self.stalls.now))
        self.changed: Event[Change] = Event()  # a page subscribes inside its own context: unsubscribed with the tab
        view.subscribe(self._on_change)

    def _on_change(self, change: Change) -> None:
        before, now = self.stalls.now, self.view.stalled_ids
        self.stalls = Stalls(now=before) if now == before else Stalls(now=now, began=now - before, ended=before - now)
        self.model.follow(self.view, stalled=len(now))  # first: a page redrawn for this change reads it as it is now
        self.changed.emit(change)
