"""Per-sector pacing: a token bucket that makes a sector's requests wait, never dropped.

Each sector's requests are consumed by their own agent; before a batch of n requests is
answered, the agent awaits `acquire(n)`, which sleeps (asyncio: other sectors' agents go on)
until the sector's `verification.rate_per_second` allows n more. While it sleeps, the agent takes
nothing from its stream, faust's buffer for that sector's partitions fills and faust stops
fetching them: the sector's partitions are paced at the broker, and nothing is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """At most `rate` tokens per second on average, bursts up to `burst` (default: 1 s)."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else rate
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def delay(self, n: int) -> float:
        """Take `n` tokens; the seconds to wait before using them (0: go now)."""
        self._refill()
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self, n: int) -> float:
        """Wait until `n` requests may be answered; the seconds waited."""
        wait = self.delay(n)
        if wait > 0:
            await asyncio.sleep(wait)
        return wait
