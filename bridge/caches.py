"""In-memory caches of rows the hot paths would otherwise read again for every message."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

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
