"""Token buckets: tokens up to the burst, a wait once they are spent, penalties, eviction."""

from __future__ import annotations

import pytest

from bridge.ratelimit import KeyedBuckets, TokenBucket


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0.5)])
def test_a_bucket_that_could_never_give_a_token_is_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="rate must be > 0 and burst >= 1"):
        TokenBucket(rate, burst)


async def test_a_burst_is_free_then_the_next_token_waits_for_the_refill() -> None:
    bucket = TokenBucket(rate=0.5, burst=3)
    for _ in range(3):
        assert bucket.delay() == 0.0
        await bucket.acquire()
    # One token is missing at 0.5 per second: about two seconds, never more.
    assert 1.9 < bucket.delay() <= 2.0


async def test_the_refill_never_stores_more_than_the_burst() -> None:
    bucket = TokenBucket(rate=1_000_000, burst=2)
    await bucket.acquire()
    await bucket.acquire()
    assert bucket.delay() <= 1e-6  # refilled at once at this rate
    await bucket.acquire()
    await bucket.acquire()
    assert bucket.delay() < 1e-3  # and the refill is capped: two more, not a backlog


def test_a_penalty_holds_every_token_back_for_the_given_seconds() -> None:
    bucket = TokenBucket(rate=1, burst=5)
    bucket.penalize(10)
    assert 10.9 < bucket.delay() <= 11.0  # ten seconds at nothing, then one token to earn


def test_a_penalty_shorter_than_the_current_debt_changes_nothing() -> None:
    bucket = TokenBucket(rate=1, burst=1)
    bucket.penalize(10)
    bucket.penalize(1)
    assert bucket.delay() > 10.0


def test_each_key_has_its_own_bucket_built_with_the_shared_settings() -> None:
    buckets = KeyedBuckets(rate=2, burst=4)
    first = buckets.bucket("chat-1")
    assert buckets.bucket("chat-1") is first
    other = buckets.bucket("chat-2")
    assert other is not first
    assert (other.rate, other.burst) == (2, 4)


def test_past_its_size_the_least_recently_used_key_is_forgotten() -> None:
    buckets = KeyedBuckets(rate=1, burst=1, size=2)
    a, b = buckets.bucket("a"), buckets.bucket("b")
    assert buckets.bucket("a") is a  # "a" is now the most recently used
    buckets.bucket("c")  # evicts "b"
    assert buckets.bucket("a") is a
    assert buckets.bucket("b") is not b


async def test_acquire_by_key_spends_that_keys_tokens_only() -> None:
    buckets = KeyedBuckets(rate=0.001, burst=1)
    await buckets.acquire("spent")
    assert buckets.bucket("spent").delay() > 0
    assert buckets.bucket("fresh").delay() == 0.0
