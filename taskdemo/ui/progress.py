"""The global progress bar (completed, failed and cancelled as parts of one bar), its percentage as text, the
counters, and the line of elapsed time, throughput and ETA. While tasks are stalled the counters, the ETA, the tab's
title and the screen-reader announcements say how many."""
from __future__ import annotations

from nicegui import ui

from .. import insight
from ..view import RunView
from .run_model import RunModel
from .states import STALLED_ICON
from .summary import format_duration, summary_line
from .titles import TITLE

PARTS = ('completed', 'failed', 'cancelled')  # the bar's parts, left to right


def percent_of(count: int, total: int) -> float:
    return 100 * count / total if total else 0.0


def bar_text(sim: RunView) -> str:
    """What the bar shows, in words, for screen readers: '48% completed, 2% failed'."""
    counts = sim.counts
    parts = [f'{percent_of(getattr(counts, part), sim.total):.0f}% {part}' for part in PARTS
             if part != 'cancelled' or counts.cancelled]
    return ', '.join(parts)


class RunProgress:
    """The bar, the line of pace, the tab's title and the announcer follow each change (`update`); the progress
    line and the counters are bound to the pages' shared `RunModel`."""

    def __init__(self, sim: RunView, model: RunModel, *, narrate: bool = True) -> None:
        """`narrate`: this bar sets the tab's title and has the announcer (a replayed board's bar does neither: the
        title stays the live run's, and the replay bar announces a moment once scrubbing stops)."""
        self._sim = sim
        self._model = model
        self._narrate = narrate
        with ui.column().classes('w-full gap-1') as self.root:
            with ui.element('div').classes('run-bar w-full').mark('progress-bar') \
                    .props('role=progressbar aria-valuemin=0 aria-valuemax=100 aria-label="Finished tasks"') \
                    as self._bar:
                self._parts = {part: ui.element('div').classes(f'run-bar-part run-bar-{part}') for part in PARTS}
            with ui.row().classes('w-full items-center justify-between gap-x-4 gap-y-1'):
                ui.label().bind_text_from(model, 'progress_text') \
                    .classes('text-lg font-semibold counter').mark('progress-text')
                with ui.row().classes('counters gap-x-4 gap-y-1 text-sm'):
                    for name in ('completed', 'failed', 'running', 'stalled', 'pending', 'cancelled', 'interrupted'):
                        counter = ui.label().bind_text_from(model, f'{name}_text').classes('counter') \
                            .mark(f'{name}-count')
                        if name in {'cancelled', 'interrupted'}:  # shown only when there are any
                            counter.bind_visibility_from(model, f'any_{name}')
                        if name == 'stalled':  # ... and with an hourglass (board.css), as on the stalled cards
                            counter.bind_visibility_from(model, 'stalled', backward=bool) \
                                .classes('stalled-count').props(f'data-icon={STALLED_ICON}')
            # its line is there before a run too (empty), so that starting one does not push the grid down
            self._pace = ui.label().classes('text-sm counter pace-line').mark('pace')
            # read aloud by screen readers, politely: progress every 10 points (with the stalled tasks, if any, and
            # when the first stall begins or the last one ends), and the end of the run
            if narrate:
                self._announcer = ui.label().classes('sr-only').props('aria-live=polite role=status') \
                    .mark('announcer')
        self._announced_decile = -1
        self._announced_stalled = 0
        self._title = ''
        self.update()

    def update(self) -> None:
        sim, counts = self._sim, self._sim.counts
        start = 0.0
        for part, element in self._parts.items():
            share = percent_of(getattr(counts, part), sim.total)
            # a part is the whole bar, scaled to its share and moved to where the one before it ends: a transform
            # moves on the compositor, where a changing width would lay out the page on every frame of its fade
            place = f'transform: translateX({start:.2f}%) scaleX({share / 100:.4f})'
            start += share
            element.style(place)  # sent only when it differs: most ticks move no part
        self._bar.props(f'aria-valuenow={round(sim.percent)} aria-valuetext="{bar_text(sim)}"')
        self._pace.text = pace_line(sim, stalled=self._model.stalled)
        if self._narrate:
            self._update_title_and_announcer()

    def _update_title_and_announcer(self) -> None:
        sim, run = self._sim, self._sim.run
        if run is None:
            self._set_title(TITLE)
            self._announced_decile, self._announced_stalled = -1, 0
            return
        if run.finished:
            self._set_title(f'[{run.state.value}: {sim.counts.completed:,} ok, {sim.counts.failed:,} failed] {TITLE}')
            if self._announced_decile != 10:
                self._announcer.text = summary_line(sim)
                self._announced_decile = 10
            return
        stalled = self._model.stalled
        self._set_title(f'[{stalled:,} stalled · {sim.percent:.0f}%] {TITLE}' if stalled else
                        f'[{sim.percent:.0f}%] {TITLE}')
        decile = int(sim.percent // 10)
        if decile != self._announced_decile or bool(stalled) != bool(self._announced_stalled):
            stalls = f', {stalled:,} stalled' if stalled else ', none stalled now' if self._announced_stalled else ''
            self._announced_decile, self._announced_stalled = decile, stalled
            self._announcer.text = f'{decile * 10}% of tasks finished{stalls}'

    def _set_title(self, title: str) -> None:
        if title != self._title:  # the title travels as a message of its own: only when it changes
            self._title = title
            ui.page_title(title)


def pace_line(sim: RunView, *, stalled: int = 0) -> str:
    """'Elapsed 1 min 5 s · 40 tasks/min · ETA 2 min 0 s'; with stalled tasks the ETA is that of the others, and
    says so: 'ETA 2 min 0 s + 3 stalled' ('ETA: waits on 3 stalled' when nothing else is left)."""
    run = sim.run
    if run is None:
        return ''
    elapsed = format_duration(run.finished_s if run.finished_s is not None else run.elapsed_s)
    throughput = insight.throughput_per_min(sim)
    rate = 'measuring' if throughput is None else f'{throughput:,.0f} tasks/min'
    if run.finished:
        return f'Elapsed {elapsed} · {rate}'
    eta = insight.eta_s(sim)
    return f'Elapsed {elapsed} · {rate} · {eta_words(sim, eta, stalled)}'


def eta_words(sim: RunView, eta: float | None, stalled: int) -> str:
    if stalled and sim.counts.running + sim.counts.pending == stalled:
        return f'ETA: waits on {stalled:,} stalled'
    estimate = 'estimating' if eta is None else format_duration(eta)
    return f'ETA {estimate} + {stalled:,} stalled' if stalled else f'ETA {estimate}'
