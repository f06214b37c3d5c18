"""When to try a failed job again: a policy that returns a decision, owned by the worker only."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bridge.errors import (
    ConfigError,
    PermanentDeliveryError,
    RateLimitedError,
    TransientDeliveryError,
    UnknownScopeError,
    UnsupportedHookError,
)

# Failures that no amount of waiting fixes.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    PermanentDeliveryError,
    UnsupportedHookError,
    UnknownScopeError,
    ConfigError,
)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    retry_in: float  # seconds from now


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by attempts and by the job's age.

    The defaults ride out a 30-minute outage: 2, 4, … 256 s, then every 5 minutes, for up to
    16 attempts (about 48 minutes) or 6 hours of age, whichever comes first. A rate-limit answer
    does not use up an attempt: the peer told us exactly when to come back.
    """

    max_attempts: int = 16
    base: float = 2.0
    cap: float = 300.0
    jitter: float = 0.2
    max_age: float = 6 * 3600.0

    def backoff(self, attempts: int, rng: random.Random | None = None) -> float:
        raw = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        spread = raw * self.jitter
        return max(0.0, raw + (rng or random).uniform(-spread, spread))  # noqa: S311

    def decide(
        self, error: BaseException, attempts: int, age: float, rng: random.Random | None = None
    ) -> RetryDecision | None:
        """``attempts`` counts the attempt that just failed; None means give up now."""
        if isinstance(error, PERMANENT_ERRORS):
            return None
        if age >= self.max_age:
            return None
        if isinstance(error, RateLimitedError):
            return RetryDecision(max(error.retry_after or 0.0, 0.0) or self.backoff(1, rng))
        if attempts >= self.max_attempts:
            return None
        delay = self.backoff(attempts, rng)
        if isinstance(error, TransientDeliveryError) and error.retry_after:
            delay = max(delay, error.retry_after)
        return RetryDecision(delay)
