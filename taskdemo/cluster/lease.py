"""The engine's lease: one process at a time holds it, renews it well inside its time to live, and counts it as
lost by its own monotonic clock the moment a renewal is overdue, whatever Redis says later."""
from __future__ import annotations

import time
from collections.abc import Callable

from . import scripts
from .link import Link

TTL_S = 2.0


class Lease:
    def __init__(self, link: Link, holder: str, *, ttl_s: float = TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.holder = holder
        self.ttl_s = ttl_s
        self.epoch: int | None = None
        self._clock = clock
        self._renewed_at = float('-inf')  # when the last successful request was *sent*: the safe side
        self._acquire = link.fast.register_script(scripts.ACQUIRE)
        self._renew = link.fast.register_script(scripts.RENEW)
        self._release = link.fast.register_script(scripts.RELEASE)

    @property
    def every_s(self) -> float:
        """How often to renew: four times per time to live, so that two renewals can fail and it still holds."""
        return self.ttl_s / 4

    def valid(self) -> bool:
        """Ours, by our own clock: the last renewal was sent less than a time to live ago."""
        return self.epoch is not None and self._clock() - self._renewed_at < self.ttl_s

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it; a new fencing epoch comes with it. Raises UNREACHABLE errors."""
        sent = self._clock()
        epoch = await self._acquire(keys=[self.link.keys.lease, self.link.keys.epoch],
                                    args=[self.holder, int(self.ttl_s * 1000)])
        if epoch is None:
            return False
        self.epoch, self._renewed_at = int(epoch), sent
        return True

    async def renew(self) -> bool:
        """Extend the lease; False when it is no longer ours (expired and taken, or fenced by a newer epoch)."""
        if self.epoch is None:
            return False
        sent = self._clock()
        renewed = await self._renew(keys=[self.link.keys.lease, self.link.keys.epoch],
                                    args=[self.holder, int(self.ttl_s * 1000), self.epoch])
        if renewed:
            self._renewed_at = sent
            return True
        self.lose()
        return False

    def lose(self) -> None:
        self.epoch = None
        self._renewed_at = float('-inf')

    async def release(self) -> None:
        """Give the lease up (a clean stop), so another process takes over without waiting for it to expire."""
        if self.epoch is not None:
            self.lose()
            await self._release(keys=[self.link.keys.lease], args=[self.holder])
