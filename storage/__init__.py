"""Persistence: SQLModel tables, the store and its repositories, the durable queue, migrations
(a leaf package). See ``storage.store`` for when to read and when to open a transaction."""

from storage.db import create_engine
from storage.migrate import upgrade_to_head
from storage.repos.connections import ConnectionStats, ScopeBinding
from storage.repos.jobs import Attempt, Claimed
from storage.store import Store, UnitOfWork

__all__ = [
    "Attempt",
    "Claimed",
    "ConnectionStats",
    "ScopeBinding",
    "Store",
    "UnitOfWork",
    "create_engine",
    "upgrade_to_head",
]
