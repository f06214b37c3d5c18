"""In-memory caches of rows the hot paths would otherwise read again for every message."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

from storage.models import Connection, Contact, Conversation

K = TypeVar("K")
V = TypeVar("V")

# Seconds a connection row is trusted: ``disconnect`` runs in another process (the CLI) and
# is noticed this much later at worst.
CONNECTION_TTL = 5.0


class BoundedCache(Generic[K, V]):
    """A dict that forgets the least recently used entries past ``size``."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def discard(self, key: K) -> None:
        self._data.pop(key, None)


class TimedCache(Generic[K, V]):
    """A ``BoundedCache`` whose entries are trusted for ``ttl`` seconds only."""

    def __init__(self, size: int, ttl: float = CONNECTION_TTL) -> None:
        self._entries: BoundedCache[K, tuple[float, V]] = BoundedCache(size)
        self._ttl = ttl

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] >= self._ttl:
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        self._entries.put(key, (time.monotonic(), value))

    def discard(self, key: K) -> None:
        self._entries.discard(key)


ContactEntry = tuple[int, str, str | None]  # contact id, the name and username it was saved with


class Lookups:
    """The one cache of connection and conversation rows, shared by the relay and deliveries.

    Built once in the container and passed to whoever reads these rows. Connections are
    trusted for ``CONNECTION_TTL`` only (``disconnect`` may run in another process) and dropped
    at once by ``invalidate_connection`` in this one. Contacts and conversations are never
    deleted and their ids never change; a conversation's amoCRM chat id only goes from unknown
    to known (callers update the cached row when it does). Fill entries only after a commit.
    """

    def __init__(self, size: int = 50_000, connection_ttl: float = CONNECTION_TTL) -> None:
        self._connections: TimedCache[str, Connection] = TimedCache(1_000, connection_ttl)
        self._scopes: TimedCache[str, Connection] = TimedCache(1_000, connection_ttl)
        self.contacts: BoundedCache[tuple[str, str], ContactEntry] = BoundedCache(size)
        # (connection id, external chat id) → conversation id: the receipt side's key.
        self.conversation_ids: BoundedCache[tuple[str, str], int] = BoundedCache(size)
        # (connection id, our conversation id, amoCRM chat id) → row: how hooks name a chat.
        self.conversations: BoundedCache[tuple[str, str | None, str | None], Conversation] = (
            BoundedCache(size)
        )
        # conversation id → its rows, once it has an amoCRM chat (they no longer change).
        self.chats: BoundedCache[int, tuple[Conversation, Contact]] = BoundedCache(size)

    def connection(self, connection_id: str) -> Connection | None:
        return self._connections.get(connection_id)

    def connection_by_scope(self, scope_id: str) -> Connection | None:
        return self._scopes.get(scope_id)

    def put_connection(self, row: Connection) -> None:
        self._connections.put(row.id, row)
        self._scopes.put(row.scope_id, row)

    def invalidate_connection(self, row: Connection) -> None:
        """Forget a connection now (it was connected again or disconnected in this process)."""
        self._connections.discard(row.id)
        self._scopes.discard(row.scope_id)
