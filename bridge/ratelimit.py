"""Token buckets that smooth bursts instead of letting the peer answer 429 (stdlib only).

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; ``acquire`` waits
until a token is free. Waiters are served in arrival order, so a burst keeps its order.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def delay(self) -> float:
        """Seconds until a token is free (0 when one is free now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    async def acquire(self) -> None:
        async with self._lock:
            wait = self.delay()
            if wait > 0:
                # The wait *is* the rate limit: nothing else signals when a token comes back.
                await asyncio.sleep(wait)
                self._refill()
            self._tokens -= 1

    def penalize(self, seconds: float) -> None:
        """The peer said "retry after": no token until then."""
        self._refill()
        self._tokens = min(self._tokens, -seconds * self.rate)


class KeyedBuckets:
    """One bucket per key (a chat, a scope), forgetting the least recently used past ``size``."""

    def __init__(self, rate: float, burst: float, size: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self._size = size
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
            if len(self._buckets) > self._size:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket

    async def acquire(self, key: str) -> None:
        await self.bucket(key).acquire()
