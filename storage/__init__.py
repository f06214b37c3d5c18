"""Persistence: SQLModel tables, the store, the durable queue and migrations (a leaf package)."""

from storage.db import create_engine
from storage.migrate import upgrade_to_head
from storage.store import ConnectionStats, Store, UnitOfWork

__all__ = ["ConnectionStats", "Store", "UnitOfWork", "create_engine", "upgrade_to_head"]
