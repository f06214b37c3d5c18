"""The SQLite driver stands in for aiosqlite under SQLAlchemy's aiosqlite adapter, so it must
offer every attribute that adapter touches on a driver connection, private ones included.

SQLAlchemy may change which names it reaches for in any release; pyproject caps it below the
next minor, and this test fails loudly, naming the attribute, when an upgrade changes them.
"""

from __future__ import annotations

import inspect
import re
import sqlite3

from sqlalchemy.connectors import asyncio as sa_asyncio
from sqlalchemy.dialects.sqlite import aiosqlite as sa_aiosqlite

from storage.sqlite_driver import InlineConnection, InlineCursor

# What SQLAlchemy 2.0/2.1's adapter reads on the driver connection. ``_conn`` and ``_tx`` are
# used only to change the isolation level of a live connection, which the bridge never does
# (storage.db opens connections in autocommit mode and begins transactions itself).
USED_BY_ADAPTER = {
    "isolation_level",
    "create_function",
    "_connection",
    "close",
    "stop",
    "rollback",
    "commit",
    "cursor",
    "_conn",
    "_tx",
}
NEVER_REACHED = {"_conn", "_tx"}
# Cursor calls for multiple result sets and server-side (streamed) results: SQLite has the
# first never, and the store never asks for the second.
CURSOR_NEVER_REACHED = {"nextset", "__aiter__"}


def _names_used_on_driver_connection() -> set[str]:
    source = inspect.getsource(sa_aiosqlite) + inspect.getsource(sa_asyncio)
    return set(re.findall(r"self\._connection\.(\w+)", source))


def test_sqlalchemys_adapter_touches_only_the_names_the_driver_was_written_for() -> None:
    used = _names_used_on_driver_connection()
    new = used - USED_BY_ADAPTER
    assert not new, (
        f"SQLAlchemy's aiosqlite adapter now uses {sorted(new)} on the driver connection: "
        "storage/sqlite_driver.InlineConnection must provide them (or pin SQLAlchemy lower)"
    )


def test_the_driver_connection_offers_every_name_the_adapter_uses() -> None:
    connection = InlineConnection(sqlite3.connect(":memory:"), busy_timeout=1.0)
    try:
        needed = _names_used_on_driver_connection() - NEVER_REACHED
        assert sorted(name for name in needed if not hasattr(connection, name)) == []
    finally:
        connection.stop()


def test_the_driver_cursor_offers_the_cursor_api_the_adapter_calls() -> None:
    source = inspect.getsource(sa_asyncio)
    used = set(re.findall(r"self\._cursor\.(\w+)", source)) | set(
        re.findall(r"_cursor\.(\w+)\(", source)
    )
    missing = sorted(
        name for name in used - CURSOR_NEVER_REACHED if not hasattr(InlineCursor, name)
    )
    assert missing == [], f"InlineCursor lacks {missing}, which SQLAlchemy's adapter calls"
