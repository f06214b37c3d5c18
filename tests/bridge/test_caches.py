"""The one lookup cache: bounded, connections trusted briefly, and forgotten on demand."""

from __future__ import annotations

from bridge.caches import BoundedCache, Lookups, TimedCache
from storage.models import Connection


def connection(state: str = "active") -> Connection:
    return Connection(
        id="c1",
        channel="telegram",
        amojo_account_id="acc",
        scope_id="scope-1",
        external_account_id="42",
        token_encrypted="x",
        webhook_secret_encrypted="x",
        state=state,
    )


def test_a_bounded_cache_forgets_the_least_recently_used() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    cache.discard("a")
    cache.discard("missing")
    assert cache.get("a") is None


def test_a_timed_entry_is_not_trusted_past_its_ttl() -> None:
    cache: TimedCache[str, int] = TimedCache(10, ttl=0.0)
    cache.put("a", 1)
    assert cache.get("a") is None


def test_a_connection_is_found_by_id_and_by_scope_until_invalidated() -> None:
    lookups = Lookups()
    row = connection()
    lookups.put_connection(row)
    assert lookups.connection("c1") is row
    assert lookups.connection_by_scope("scope-1") is row
    lookups.invalidate_connection(row)
    assert lookups.connection("c1") is None
    assert lookups.connection_by_scope("scope-1") is None


def test_connections_are_trusted_for_the_ttl_only() -> None:
    lookups = Lookups(connection_ttl=0.0)
    lookups.put_connection(connection())
    assert lookups.connection("c1") is None
