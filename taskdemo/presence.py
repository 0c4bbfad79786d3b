"""Who is watching the board now: its open pages (tabs whose socket is connected) and the `/ws` listeners, counted
live by this process, plus, in a cluster, those the other processes report through Redis (cluster/node.py, about
once a second). `/status` reports them as `viewers`, and each page's header says "4 watching".

A page is counted from the moment its socket connects until it disconnects (a tab closed, a network drop; one that
reconnects counts again), not when it is only requested: a probe that fetches the page and never opens it is
nobody. Each page gets a short anonymous name of its own ("tab 7f3"), shown to its viewer, by which its actions can
be told apart from another tab's.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from nicegui import Event

NAME_HEX = 3  # "tab 7f3": 4,096 names, drawn again while one is taken
TRIES = 20  # ... this often; then a digit longer


@dataclass(frozen=True)
class Viewers:
    pages: int  # board tabs open now
    streams: int  # `/ws` listeners

    @property
    def total(self) -> int:
        return self.pages + self.streams

    def as_dict(self) -> dict[str, int]:
        return {'pages': self.pages, 'streams': self.streams, 'total': self.total}

    def words(self) -> str:
        """'4 watching: 3 board tabs, 1 API stream'."""
        parts = [f'{self.pages:,} board tab{"" if self.pages == 1 else "s"}']
        if self.streams:
            parts.append(f'{self.streams:,} API stream{"" if self.streams == 1 else "s"}')
        return f'{self.total:,} watching: {", ".join(parts)}'


class Presence:
    def __init__(self, streams: Callable[[], int] = lambda: 0) -> None:
        """`streams()`: how many `/ws` listeners there are now; call `streams_changed` when that changes."""
        self._streams = streams
        self._pages: set[str] = set()  # names of the tabs connected now
        self._named: set[str] = set()  # names given out and not yet let go (a tab may reconnect)
        self._elsewhere = Viewers(0, 0)  # in a cluster: the other processes' viewers, as they last reported
        self.changed: Event[Viewers] = Event()  # a page subscribes inside its own context: unsubscribed with it
        self.where = ''  # in a cluster: this process ('host:8081'), whose tabs these names are

    def source(self, tab: str) -> str:
        """What the run's log says a command from this tab came from: 'tab:7f3' ('tab:7f3@host:8081' in a cluster,
        where each process names its own tabs)."""
        return f'tab:{tab}@{self.where}' if self.where else f'tab:{tab}'

    def name_tab(self) -> str:
        """A short name no open tab has: three hex digits, one more each time 20 draws found only names taken (with
        thousands of tabs open)."""
        digits = NAME_HEX
        while True:
            for _ in range(TRIES):
                name = secrets.token_hex(8)[:digits]
                if name not in self._named:
                    self._named.add(name)
                    return name
            digits += 1

    def connected(self, tab: str) -> None:
        if tab not in self._pages:
            self._pages.add(tab)
            self._emit()

    def disconnected(self, tab: str) -> None:
        if tab in self._pages:
            self._pages.discard(tab)
            self._emit()

    def gone(self, tab: str) -> None:
        """The tab is closed for good: its name may be given out again."""
        self.disconnected(tab)
        self._named.discard(tab)

    def streams_changed(self) -> None:
        self._emit()

    def elsewhere(self, viewers: Viewers) -> None:
        """In a cluster, what the other processes reported (cluster/node.py, about once a second)."""
        if viewers != self._elsewhere:
            self._elsewhere = viewers
            self._emit()

    @property
    def local(self) -> Viewers:
        """This process's own."""
        return Viewers(pages=len(self._pages), streams=self._streams())

    @property
    def viewers(self) -> Viewers:
        """Everybody's: this process's and, in a cluster, the others'."""
        local, elsewhere = self.local, self._elsewhere
        return Viewers(pages=local.pages + elsewhere.pages, streams=local.streams + elsewhere.streams)

    def _emit(self) -> None:
        self.changed.emit(self.viewers)
