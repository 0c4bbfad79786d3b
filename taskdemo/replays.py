"""Where a replay's recording comes from: the live run from the view (in memory, up to this very moment), any other
run from the history; `Replays` finds it and keeps the last few replays made, for the route and the pages.

A replay made of the live run at one moment stays right for every moment before it (what has happened does not
change), so it is made again only when a later moment is asked for.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from .history import History
from .replay import Moment, Recording, Replay
from .view import RunView

KEPT = 4  # replays kept: a few pages scrubbing a few runs, at 10,000 tasks a few MB each


class NoRecording(LookupError):
    """The run asked for is neither the live one nor in the history; the message says why, for a 404."""


class Replays:
    def __init__(self, view: RunView, history: History | None) -> None:
        self.view = view
        self.history = history
        self._kept: OrderedDict[int, Replay] = OrderedDict()
        self._live_version = -1  # the view's version when the live run's replay was made

    async def replay(self, run_id: int, *, up_to: float | None = None) -> Replay:
        """A replay of run `run_id` that reaches at least `up_to` seconds (or as far as the run has gone)."""
        live = self.view.run
        if live is not None and live.id == run_id:
            return self.live(live.elapsed_s if up_to is None else up_to)
        kept = self._kept.get(run_id)
        if kept is not None and not kept.recording.live:
            self._kept.move_to_end(run_id)
            return kept
        if self.history is None:
            raise NoRecording(f'No run {run_id}: this server runs without a data folder, so only the current run '
                              f'({_current(live)}) can be replayed.')
        row = await self.history.run(run_id)
        if row is None:
            raise NoRecording(f'No run {run_id} in the history (it keeps the last {self.history.keep_runs}).')
        tasks = await self.history.tasks(run_id)
        events = await self.history.events(run_id)
        live = self.view.run
        if live is not None and live.id == run_id:  # it became the live run while the history was read
            return await self.replay(run_id, up_to=up_to)
        return self._keep(run_id, Replay(Recording.stored(row.as_run(), tasks, events)))

    def live(self, since: float) -> Replay:
        """A replay of the live run that reaches `since` seconds (or now, if it has not got that far): the one kept,
        or one made now, at once, on the event loop (the run cannot move while its tasks are read). Every page asks
        here, so that one replay serves them all."""
        live = self.view.run
        assert live is not None, 'no run to replay'
        kept, wanted = self._kept.get(live.id), min(since, live.elapsed_s)
        # its last moment may have moved on since without the clock (a retry of the finished run, a task cancelled)
        if kept is not None and kept.recording.live and (
                kept.end > wanted or kept.end == wanted and self._live_version == self.view.version):
            self._kept.move_to_end(live.id)
            return kept
        self._live_version = self.view.version
        return self._keep(live.id, Replay(Recording(replace(live), self.view.tasks, list(self.view.events),
                                                    live=True)))

    async def moment(self, run_id: int, at: float) -> Moment:
        return (await self.replay(run_id, up_to=at)).at(at)

    def _keep(self, run_id: int, replay: Replay) -> Replay:
        self._kept[run_id] = replay
        self._kept.move_to_end(run_id)
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)
        return replay


def _current(run: object) -> str:
    return 'none now' if run is None else f'run {run.id}'  # type: ignore[attr-defined]
