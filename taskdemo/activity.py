"""What was done to the runs and by whom: the activity list.

Every command is an event in its run's log (model.RunEvent) with its `source`: 'tab:7f3' (a board tab, named as
the tab shows it; 'tab:7f3@host:8081' in a cluster, where each process names its own tabs), 'api:127.0.0.1' (the
API, from that address), 'token' (the API, with the control token), 'process:host:8081' (a process of a cluster
that took the run over). The run's own doings (it completed; a restart found it cut off) have none. So the
activity is stored with the run, in SQLite or Redis, wherever its events are, and replicated with them.

`Activity` keeps the newest entries of this process's board in memory: the stored runs' once at start-up
(`load`), then each new event of the run shown as it comes (the simulator's, or a cluster mirror's, copy). Pages
subscribe to `changed` for the entries just added; `GET /activity` reads `recent`. `changed` fires once the
current turn of the event loop is over, with what it added: a reset of a running run (its cancel, then the reset)
is one batch, so a page can say "reset" once rather than "cancelled" and "reset".
"""
from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from nicegui import Event

from .history import History
from .model import Change, EventKind, RunEvent
from .settings import settings_text
from .view import RunView

KEEP = 500  # entries kept in memory, and the most `GET /activity` gives
LOAD_RUNS = 50  # stored runs read at start-up, newest first, until KEEP entries are found


@dataclass(frozen=True, slots=True)
class Entry:
    run_id: int
    seq: int  # its place in the run's log
    event: RunEvent
    settings: dict[str, Any] | None = None  # START only: the run's settings
    seed: int | None = None  # START only

    @property
    def by(self) -> str:
        return source_words(self.event.source)

    @property
    def text(self) -> str:
        head, detail = what_words(self)
        return f'{head}: {detail}' if detail else head

    def sentence(self, me: str = '') -> str:
        """With its source: 'Run 4 started by API from 127.0.0.1: 50 tasks, ....' ('by you (tab 7f3)' when `me`,
        the reader's own source, did it)."""
        head, detail = what_words(self)
        source = self.event.source
        by = f'you (tab {tab_of(me)})' if me and source == me and tab_of(me) else self.by
        return f'{head}{f" by {by}" if by else ""}{f": {detail}" if detail else ""}.'

    def as_dict(self) -> dict[str, Any]:
        event = self.event
        return {'run_id': self.run_id, 'seq': self.seq, 'kind': event.kind.value, 'wall': event.wall,
                'at_s': event.at_s, 'tasks': list(event.tasks), 'source': event.source, 'by': self.by,
                'text': self.text}


def run_entries(run_id: int, events: list[RunEvent], settings: dict[str, Any], seed: int) -> list[Entry]:
    """A run's log as activity entries, oldest first."""
    return [entry_of(run_id, seq, event, settings, seed) for seq, event in enumerate(events)]


def entry_of(run_id: int, seq: int, event: RunEvent, settings: dict[str, Any], seed: int) -> Entry:
    if event.kind == EventKind.START:
        return Entry(run_id, seq, event, settings, seed)
    return Entry(run_id, seq, event)


def source_words(source: str) -> str:
    """'a board tab (tab 7f3)', 'API from 127.0.0.1', 'API with the control token', 'process host:8081'; '' for
    the run itself."""
    kind, _, detail = source.partition(':')
    if kind == 'tab':
        return f'a board tab (tab {detail.partition("@")[0]})'
    if kind == 'api':
        return f'API from {detail}'
    if kind == 'token':
        return 'API with the control token'
    if kind == 'process':
        return f'process {detail}'
    return source


def tab_of(source: str) -> str | None:
    """The tab's own name ('7f3') when `source` is a board tab."""
    kind, _, detail = source.partition(':')
    return detail.partition('@')[0] if kind == 'tab' else None


def what_words(entry: Entry) -> tuple[str, str]:
    """What happened, without its source, and the detail after it: ('Run 4 started', '50 tasks, ...'),
    ('Run 4: task 17 retried', '')."""
    event, run = entry.event, f'Run {entry.run_id:,}'
    count = len(event.tasks)
    tasks = f'task {event.tasks[0]:,}' if count == 1 else f'{count:,} tasks'
    match event.kind:
        case EventKind.START:
            return f'{run} started', settings_text(entry.settings, entry.seed or 0) if entry.settings else ''
        case EventKind.RETRY | EventKind.RETRY_TASK:
            return f'{run}: {tasks} retried', ''
        case EventKind.CANCEL_TASK:
            return f'{run}: {tasks} cancelled', ''
        case EventKind.INTERRUPTED if event.crash:
            return f'{run} found interrupted on a restart', 'the app had stopped without saving its end'
        case EventKind.INTERRUPTED if not event.source:
            return f'{run} interrupted', 'the app stopped'
    return f'{run} {KIND_WORDS.get(event.kind, event.kind.value)}', ''


KIND_WORDS = {EventKind.CANCEL: 'cancelled', EventKind.COMPLETED: 'completed', EventKind.INTERRUPTED: 'interrupted',
              EventKind.RESUME: 'resumed', EventKind.RESET: 'cleared from the board (reset)',
              EventKind.MOVED: 'moved to another process'}


class Activity:
    def __init__(self, view: RunView, history: History | None = None) -> None:
        self._view = view
        self._history = history
        self._entries: deque[Entry] = deque(maxlen=KEEP)  # oldest first
        self._seen: dict[tuple[int, float], int] = {}  # (run id, started at) -> how many of its events are listed
        self.changed: Event[list[Entry]] = Event()  # the entries just added, oldest first
        self._new: list[Entry] = []  # added in this turn of the event loop: `changed` tells them after it
        self._take()
        view.subscribe(self._on_change)

    def recent(self, limit: int = KEEP) -> list[Entry]:
        """The newest `limit` entries, newest first."""
        newest = list(self._entries)[-limit:] if limit > 0 else []
        return newest[::-1]

    def since(self, wall: float) -> list[Entry]:
        """The entries made after `wall` (seconds since the epoch), oldest first."""
        return [entry for entry in self._entries if entry.event.wall > wall]

    async def load(self) -> None:
        """Put the stored runs' entries before those this process has seen (start-up)."""
        if self._history is None:
            return
        older: list[Entry] = []
        for row in await self._history.runs(LOAD_RUNS):
            key = (row.id, row.started_at)
            if key in self._seen:
                continue
            events = await self._history.events(row.id)
            if key in self._seen:
                continue  # the run shown came meanwhile (a cluster's mirror adopting it): its entries are here
            self._seen[key] = len(events)  # ... and later ones come live, after these
            older[:0] = run_entries(row.id, events, row.settings, row.seed)
            if len(older) >= KEEP:
                break
        self._entries = deque([*older, *self._entries], maxlen=KEEP)

    def _on_change(self, _change: Change) -> None:
        self._take()  # a length compared: cheap enough for every change

    def _take(self) -> None:
        run, events = self._view.run, self._view.events
        if run is None:
            return
        key = (run.id, run.started_at)
        first = self._seen.get(key, 0)
        if len(events) <= first:
            return
        self._seen[key] = len(events)
        settings = run.settings.as_dict()
        new = [entry_of(run.id, seq, events[seq], settings, run.seed) for seq in range(first, len(events))]
        self._entries.extend(new)
        if not self._new:
            try:
                asyncio.get_running_loop().call_soon(self._tell)
            except RuntimeError:  # no event loop (made before the app runs): nobody is listening yet
                return
        self._new.extend(new)

    def _tell(self) -> None:
        new, self._new = self._new, []
        self.changed.emit(new)
