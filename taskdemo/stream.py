"""The `/ws` stream for many clients: one broadcaster builds each frame once and hands the same text to every
client; each client has its own sender and a small queue, so a client that stops reading is dropped when its
queue is full and never delays the others."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from . import protocol
from .view import RunView

Mode = Literal['full', 'changes']
STREAM_INTERVAL_S = 0.5  # the seed's cadence
QUEUE_FRAMES = 8  # a client this many frames behind (4 s at the seed's cadence) is dropped


@dataclass(eq=False)
class Subscriber:
    mode: Mode
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE_FRAMES))
    dropped: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped.set()


class Broadcaster:
    """Every `interval` seconds: one full frame and one changes frame, each built once, for all subscribers.

    It runs only while somebody listens: the first subscriber starts it, the last one leaving stops it.
    """

    def __init__(self, sim: RunView, *, interval: float) -> None:
        self.sim = sim
        self.interval = interval
        self.subscribers: set[Subscriber] = set()
        self.on_count: Callable[[], object] = lambda: None  # called when a listener comes or goes (presence.py)
        self.frames = protocol.FrameCache(sim)
        self.broadcasts = 0
        self._version = sim.version
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def subscribe(self, mode: Mode) -> tuple[Subscriber, str]:
        """A new subscriber and the full frame it gets at once; later frames arrive in its queue."""
        subscriber = Subscriber(mode)
        self.subscribers.add(subscriber)
        self.on_count()
        if not self.running:
            self._version = self.sim.version
            self._task = asyncio.get_running_loop().create_task(self._run(), name='taskdemo /ws broadcaster')
        return subscriber, self.frames.full()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.discard(subscriber)
            self.on_count()
        if not self.subscribers and self._task is not None:
            self._task.cancel()
            self._task = None

    def broadcast(self) -> None:
        """Send the frame of this moment to everybody. A changes frame holds every task changed since the last
        broadcast: for a client that joined after it, that is a few tasks more than it needs, never fewer."""
        modes = {subscriber.mode for subscriber in self.subscribers}
        texts: dict[Mode, str] = {}
        if 'full' in modes:
            texts['full'] = self.frames.full()
        if 'changes' in modes:
            changed = self.sim.changes_since(self._version)
            texts['changes'] = self.frames.full() if changed is None else protocol.dumps(
                protocol.changes_frame(self.sim, changed))
        self._version = self.sim.version
        self.broadcasts += 1
        for subscriber in list(self.subscribers):
            subscriber.offer(texts[subscriber.mode])

    async def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(self.interval)
                self.broadcast()
