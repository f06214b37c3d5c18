"""The retry policy: permanent failures stop at once, the rest back off within bounds."""

from __future__ import annotations

import random

import pytest

from bridge.errors import (
    ConfigError,
    PermanentDeliveryError,
    RateLimitedError,
    RecipientUnavailableError,
    TransientDeliveryError,
    UnknownScopeError,
    UnsupportedHookError,
)
from bridge.retry import RetryPolicy

POLICY = RetryPolicy(max_attempts=5, base=2.0, cap=30.0, jitter=0.0, max_age=3600.0)


@pytest.mark.parametrize(
    "error",
    [
        PermanentDeliveryError(),
        RecipientUnavailableError(),
        UnsupportedHookError(),
        UnknownScopeError(),
        ConfigError(),
    ],
)
def test_permanent_failures_are_never_retried(error: Exception) -> None:
    assert POLICY.decide(error, attempts=1, age=0) is None


def test_transient_failures_back_off_exponentially_up_to_the_cap() -> None:
    delays = [POLICY.decide(TransientDeliveryError(), n, 0) for n in (1, 2, 3, 4)]
    assert [d.retry_in for d in delays if d] == [2.0, 4.0, 8.0, 16.0]
    assert RetryPolicy(cap=30.0, jitter=0.0).backoff(10) == 30.0


def test_attempts_and_age_bound_the_retries() -> None:
    assert POLICY.decide(TransientDeliveryError(), attempts=5, age=0) is None
    assert POLICY.decide(TransientDeliveryError(), attempts=1, age=3600.0) is None
    assert POLICY.decide(RuntimeError("bug"), attempts=1, age=0) is not None


def test_a_peers_retry_after_is_waited_out() -> None:
    decision = POLICY.decide(TransientDeliveryError(retry_after=20.0), attempts=1, age=0)
    assert decision is not None and decision.retry_in == 20.0


def test_rate_limits_do_not_use_up_attempts() -> None:
    decision = POLICY.decide(RateLimitedError(retry_after=3.0), attempts=99, age=0)
    assert decision is not None and decision.retry_in == 3.0


def test_jitter_stays_within_its_spread() -> None:
    policy = RetryPolicy(base=10.0, jitter=0.2)
    rng = random.Random(1)
    assert all(8.0 <= policy.backoff(1, rng) <= 12.0 for _ in range(100))
