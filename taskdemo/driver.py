"""The one timer that moves the model: every `interval` seconds it calls `Simulator.step` with the real time
that passed. Nothing else ticks. A failing step is logged and the timer goes on."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from .simulator import Simulator

log = logging.getLogger(__name__)

TICK_S = 0.1


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

    async def run(self) -> None:
        last = self._clock()
        while True:
            await self._sleep(self.interval)
            now = self._clock()
            self.tick(now - last)
            last = now

    def tick(self, dt: float) -> None:
        self.ticks += 1
        try:
            self.sim.step(dt)
        except Exception:
            self.failed_ticks += 1
            log.exception('simulator step failed; the timer goes on')
