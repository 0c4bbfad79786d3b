"""The page: `create_root(view, commands)` makes the function NiceGUI calls for every visitor. Each visitor gets a
`Board` that reads the run from `view`, changes it only through `commands`, subscribes to the changes the view's
one `Fanout` passes on (unsubscribed with the tab), and redraws only what changed.

Its replay bar (replay_control.py) puts the board back at any moment of a run: a replayed board then stands in
place of the live one (which goes on following the live run, hidden), until the page is live again. A link to a
moment (`/?run=12&at=95.5`) opens the page replaying it."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from nicegui import background_tasks, ui
from starlette.requests import Request

from ..activity import Activity, Entry
from ..control import Commands
from ..history import History
from ..model import Change, EventKind
from ..presence import Presence
from ..replays import Replays
from ..view import RunView
from .activity_panel import ActivityPanel
from .cluster_bar import ClusterState, cluster_parts
from .controls import RunControls
from .details import TaskDetails
from .digest import Digest
from .fanout import Fanout
from .filters import FilterChips
from .grid import TaskGrid
from .history import HistoryPanel
from .progress import RunProgress
from .replay_board import ANCHOR
from .replay_control import ReplayControl
from .replay_text import link_moment
from .settings_panel import SettingsPanel
from .summary import RunSummary, summary_line
from .timeline import Timeline
from .titles import TITLE
from .watching import Watching

PRIMARY = '#1d4ed8'  # NiceGUI's default blue carries white text at only 3:1; this one at 6.7:1
NEGATIVE = '#b91c1c'
POSITIVE = '#15803d'
STYLES = ('board.css', 'grid.css', 'panels.css', 'replay.css')  # the page; the cards; the panels; the replay bar
ANNOUNCED = {EventKind.START, EventKind.RESET, EventKind.CANCEL}  # told on every other page, with where from
CSS = '\n'.join((Path(__file__).parent / name).read_text() for name in STYLES)


def create_root(view: RunView, commands: Commands, *, control_token: str | None = None,
                history: History | None = None, fanout: Fanout | None = None,
                cluster: ClusterState | None = None, replays: Replays | None = None,
                presence: Presence | None = None, activity: Activity | None = None,
                clock: Callable[[], float] = time.time) -> Callable[[Request], Awaitable[None]]:
    """The page function; every page hears the view's changes through `fanout`. Without one given, it is made with
    the first page: bindings to its model are then made in the NiceGUI app that serves the page (tests reset it).
    `replays` (the app's, or one for these pages) makes the replays the pages scrub; `presence` (the app's, with its
    `/ws` listeners; or one for these pages) counts who is watching; `activity` (the app's, or one for these pages)
    lists who did what; `clock` (a test's fake one) says how long a tab was away."""
    replays = replays or Replays(view, history)
    presence = presence or Presence()
    activity = activity or Activity(view, history)

    async def root(request: Request) -> None:
        nonlocal fanout
        fanout = fanout or Fanout(view)
        board = Board(view, commands, fanout, control_token=control_token, history=history,
                      query=request.query_params, cluster=cluster, replays=replays, base_url=str(request.base_url),
                      presence=presence, activity=activity, clock=clock)
        await board.open_link()  # before the page is sent: a link to a moment opens on it, not on the live board
    return root


class Board:
    def __init__(self, view: RunView, commands: Commands, fanout: Fanout, *, control_token: str | None = None,
                 history: History | None = None, query: Mapping[str, str] | None = None,
                 cluster: ClusterState | None = None, replays: Replays | None = None, base_url: str = '',
                 presence: Presence, activity: Activity, clock: Callable[[], float] = time.time) -> None:
        self._view = view
        self._fanout = fanout
        self._query = query or {}
        self._client = ui.context.client  # changes arrive from anywhere (a timer, another tab): notify this page
        ui.page_title(TITLE)
        ui.colors(primary=PRIMARY, negative=NEGATIVE, positive=POSITIVE)
        ui.add_css(CSS)
        ui.query('.nicegui-content').classes('max-w-screen-xl mx-auto')
        self._skip = ui.link('Skip to tasks', '#tasks').classes('skip-link').mark('skip-link')
        # the header (title, controls, the bar, the counters, the pace) stays in view while the grid scrolls
        with ui.element('header').classes('board-header w-full flex flex-col gap-1').mark('header') as header:
            cluster_footer = cluster_parts(cluster) if cluster is not None else None
            with ui.row().classes('w-full items-center justify-between gap-2') as top:
                with ui.row().classes('items-baseline gap-x-3 gap-y-0'):
                    ui.label(TITLE).classes('board-title font-bold').props('role=heading aria-level=1')
                    self.watching = Watching(presence)
                self.me = presence.source(self.watching.tab)  # what the run's log says of this tab's commands
                commands = commands.by(self.me)
                self.controls = RunControls(view, commands, fanout.model, control_token=control_token,
                                            on_unlock=self._unlocked, viewers=lambda: presence.viewers)
                with self.controls.row:
                    ui.button('Settings', icon='tune', on_click=lambda: self.settings.open()) \
                        .props('flat no-caps aria-haspopup=dialog').mark('open-settings')
            self.progress = RunProgress(view, fanout.model)
            self._replay_header = ui.column().classes('w-full gap-0').mark('replay-header')
            self._replay_header.visible = False
        self.settings = SettingsPanel(view, commands, query=query or {}, may_control=lambda: self.controls.unlocked)
        self.details = TaskDetails(view, commands, may_control=lambda: self.controls.unlocked)  # Cancel/Retry this task
        self.digest = Digest(view, activity, me=self.me, clock=clock)  # while you were away
        with ui.column().classes('w-full') as self._live_body:  # the live board; hidden while the page replays
            self.summary = RunSummary(view, on_retry=self.controls.retry, on_open=self.details.open,
                                      may_control=lambda: self.controls.unlocked)
            self.filters_row = ui.row().classes('w-full')
            self.grid = TaskGrid(view, on_open=self.details.open)
            with self.filters_row:
                self.filters = FilterChips(view, self.grid, fanout.model)
            self.timeline = Timeline(view)
        self._replay_body = ui.column().classes('w-full').mark('replay-body')
        self._replay_body.visible = False
        self.history = HistoryPanel(history, on_replay=lambda run_id: self.replaying.open(run_id), me=self.me) \
            if history is not None else None
        self.activity = ActivityPanel(activity, me=self.me)
        if cluster_footer is not None:
            cluster_footer()
        self.replaying = ReplayControl(view, replays or Replays(view, history), top=top, header=header,
                                       slots=(self._replay_header, self._replay_body), on_mode=self._show_replay,
                                       base_url=base_url)
        fanout.changed.subscribe(self.on_change)
        activity.changed.subscribe(self._announce)  # in the page's context: unsubscribed with it

    def on_change(self, change: Change) -> None:
        stalls = self._fanout.stalls
        self.grid.apply(change, stalls)
        self.details.follow(change.tasks, change.structure)
        self.progress.update()
        if change.transitions or change.structure or stalls.moved:
            self.filters.update()
        self.replaying.follow(change)
        if change.run:
            self.controls.update()
            self.settings.update()
            self.summary.update()
            if self.history and self._view.run and self._view.run.finished:
                background_tasks.create(self.history.refresh(), name='refresh history')

    def _unlocked(self) -> None:
        self.settings.update()
        self.summary.update()
        self.details.update()

    def _announce(self, entries: list[Entry]) -> None:
        """A run started, reset or cancelled from elsewhere (another tab, the API) is told in a notification: this
        page's viewer did not do it and may not have seen it. A reset of a running run (its cancel, then the reset)
        is told once, as the reset."""
        reset = {entry.run_id for entry in entries if entry.event.kind == EventKind.RESET}
        for entry in entries:
            kind = entry.event.kind
            told_as_reset = kind == EventKind.CANCEL and entry.run_id in reset
            if kind not in ANNOUNCED or entry.event.source == self.me or told_as_reset:
                continue
            run = self._view.run  # a cancel's outcome while its run is still shown (not when a reset came after)
            shown = kind == EventKind.CANCEL and run is not None and run.id == entry.run_id
            outcome = f' {summary_line(self._view)}' if shown else ''
            with self._client:
                ui.notify(f'{entry.sentence()}{outcome}', color='primary', timeout=8000)

    async def open_link(self) -> None:
        """A link to a moment (`?run=12&at=95.5`) opens the page replaying it; a bad one says what was wrong."""
        run_id, at, problem = link_moment(self._query)
        if problem:
            ui.notify(problem, type='warning')
        if run_id is not None:
            await self.replaying.open(run_id, at)

    def _show_replay(self, replaying: bool) -> None:
        """The replayed board in place of the live one (and the banner in place of the run controls), or back."""
        for live_part in (self.controls.root, self.progress.root, self._live_body):
            live_part.visible = not replaying
        for replayed_part in (self._replay_header, self._replay_body):
            replayed_part.visible = replaying
        self._skip.props(f'href=#{ANCHOR if replaying else "tasks"}')
