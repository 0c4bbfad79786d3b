"""The page: `create_root(sim)` makes the function NiceGUI calls for every visitor. Each visitor gets a `Board`
that subscribes to the simulator's changes (unsubscribed with the tab) and redraws only what changed."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from nicegui import background_tasks, ui
from starlette.requests import Request

from ..recorder import Recorder
from ..simulator import Change, RunState, Simulator
from .controls import RunControls
from .details import TaskDetails
from .filters import FilterChips
from .grid import TaskGrid
from .history import HistoryPanel
from .progress import RunProgress
from .settings_panel import SettingsPanel
from .summary import RunSummary, summary_line
from .timeline import Timeline
from .titles import TITLE

PRIMARY = '#1d4ed8'  # NiceGUI's default blue carries white text at only 3:1; this one at 6.7:1
NEGATIVE = '#b91c1c'
POSITIVE = '#15803d'
STYLES = ('board.css', 'grid.css', 'panels.css')  # the page around the grid; the cards; the panels and dialogs
CSS = '\n'.join((Path(__file__).parent / name).read_text() for name in STYLES)


def create_root(sim: Simulator, *, control_token: str | None = None,
                recorder: Recorder | None = None) -> Callable[[], None]:
    def root(request: Request) -> None:
        Board(sim, control_token=control_token, recorder=recorder, query=request.query_params)
    return root


class Board:
    def __init__(self, sim: Simulator, *, control_token: str | None = None,
                 recorder: Recorder | None = None, query: Mapping[str, str] | None = None) -> None:
        self._sim = sim
        self._shown_state = sim.state
        self._client = ui.context.client  # changes arrive from anywhere (a timer, another tab): notify this page
        ui.page_title(TITLE)
        ui.colors(primary=PRIMARY, negative=NEGATIVE, positive=POSITIVE)
        ui.add_css(CSS)
        ui.query('.nicegui-content').classes('max-w-screen-xl mx-auto')
        ui.link('Skip to tasks', '#tasks').classes('skip-link').mark('skip-link')
        # the header (title, controls, the bar, the counters, the pace) stays in view while the grid scrolls
        with ui.element('header').classes('board-header w-full flex flex-col gap-1').mark('header'):
            with ui.row().classes('w-full items-center justify-between gap-2'):
                ui.label(TITLE).classes('board-title font-bold').props('role=heading aria-level=1')
                self.controls = RunControls(sim, control_token=control_token, on_unlock=self._unlocked)
                with self.controls.row:
                    ui.button('Settings', icon='tune', on_click=lambda: self.settings.open()) \
                        .props('flat no-caps aria-haspopup=dialog').mark('open-settings')
            self.progress = RunProgress(sim)
        self.settings = SettingsPanel(sim, query=query or {}, may_control=lambda: self.controls.unlocked)
        self.details = TaskDetails(sim)
        self.summary = RunSummary(sim, on_retry=self.controls.retry, on_open=self.details.open,
                                  may_control=lambda: self.controls.unlocked)
        self.filters_row = ui.row().classes('w-full')
        self.grid = TaskGrid(sim, on_open=self.details.open)
        with self.filters_row:
            self.filters = FilterChips(sim, self.grid)
        self.timeline = Timeline(sim)
        self.history = HistoryPanel(recorder) if recorder else None
        sim.changed.subscribe(self.on_change)

    def on_change(self, change: Change) -> None:
        self.grid.apply(change)
        self.details.follow(change.tasks, change.structure)
        self.progress.update()
        if change.transitions or change.structure:
            self.filters.update()
        if change.run:
            self.controls.update()
            self.settings.update()
            self.summary.update()
            self._announce_end()
            if self.history and self._sim.run and self._sim.run.finished:
                background_tasks.create(self.history.refresh(), name='refresh history')

    def _unlocked(self) -> None:
        self.settings.update()
        self.summary.update()

    def _announce_end(self) -> None:
        """The summary above the grid tells how a run ended; a notification only says that a run was cancelled
        from elsewhere (another tab, the API), which this page's viewer did not do and may not have seen."""
        state = self._sim.state
        if state != self._shown_state and state == RunState.CANCELLED and not self.controls.cancelled_here:
            with self._client:
                ui.notify(f'Cancelled from elsewhere. {summary_line(self._sim)}', color='primary', timeout=8000)
        if state != self._shown_state:
            self.controls.cancelled_here = False
        self._shown_state = state
