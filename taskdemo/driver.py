"""The one timer that moves the model: every `interval` seconds it calls `Simulator.step` with the real time
that passed. Nothing else ticks. A failing step is logged and the timer goes on."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from .simulator import Change, Simulator

log = logging.getLogger(__name__)

# Four ticks a second: each card's change reaches the page within about 0.3 s (the target is 0.5 s), and the
# page gets a quarter as many messages as at ten ticks a second (measured at 50 tasks: 599 -> see README bytes/s).
TICK_S = 0.25


class Driver:
    def __init__(self, sim: Simulator, *, interval: float = TICK_S,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.sim = sim
        self.interval = interval
        self.ticks = 0
        self.failed_ticks = 0
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        sim.subscribe(self._on_change)

    def _on_change(self, change: Change) -> None:
        if change.structure or change.run:
            # a run that starts (or resumes) between two ticks counts its time from now, not from the last tick
            self._last = self._clock()

    async def run(self) -> None:
        self._last = self._clock()
        while True:
            await self._sleep(self.interval)
            now = self._clock()
            self.tick(now - self._last)
            self._last = now

    def tick(self, dt: float) -> None:
        self.ticks += 1
        try:
            self.sim.step(dt)
        except Exception:
            self.failed_ticks += 1
            log.exception('simulator step failed; the timer goes on')
