"""Engine construction: one async engine per process, SQLite tuned for a durable queue."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.sqlite_driver import connector

MIN_SQLITE = (3, 35, 0)  # RETURNING, used by the queue's claim


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def create_engine(url: str, *, echo: bool = False, busy_timeout: float = 30.0) -> AsyncEngine:
    """``busy_timeout``: how long an SQLite write waits for a lock another process holds."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return _create_sqlite_engine(url, echo, busy_timeout)
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def create_reader(engine: AsyncEngine) -> AsyncEngine:
    """An engine for read-only transactions. On SQLite (WAL) readers run beside the one
    writer instead of queueing for the write lock; elsewhere it is the same engine."""
    if engine.dialect.name != "sqlite":
        return engine
    reader = create_async_engine(
        engine.url, async_creator=connector(_database(engine.url), writer=False)
    )

    @event.listens_for(reader.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    return reader


def _create_sqlite_engine(url: str, echo: bool, busy_timeout: float) -> AsyncEngine:
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} is too old: the queue needs 3.35 or newer"
        )
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    # The connections are opened in autocommit mode: transactions are begun by hand below.
    # The driver's own implicit BEGIN would be DEFERRED, and a deferred reader that later
    # writes fails at once with "database is locked" instead of waiting its turn.
    engine = create_async_engine(
        url,
        echo=echo,
        async_creator=connector(_database(make_url(url)), busy_timeout=busy_timeout),
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit (and so a webhook's 200) is on disk, power loss included.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _database(url: Any) -> str:
    """The file (or ``:memory:``) an SQLite URL names."""
    return url.database or ":memory:"


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
