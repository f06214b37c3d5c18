"""Engine construction: one async engine per process, SQLite tuned for a durable queue."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from typing import IO, Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.sqlite_driver import connector

MIN_SQLITE = (3, 35, 0)  # RETURNING, used by the queue's claim


class DatabaseOpenError(Exception):
    """The database cannot be opened or used. The message is one line, with no password."""


class DatabaseInUseError(DatabaseOpenError):
    """Another process serves this SQLite database."""


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
        raise DatabaseOpenError(
            f"SQLite {sqlite3.sqlite_version} is too old: the queue needs 3.35 or newer"
        )
    path = sqlite_file(url)
    if path is not None:
        _make_folder(path)
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


# -- opening errors: one line an admin can act on ---------------------------------------------
def describe(url: str | URL) -> str:
    """The database as an admin names it: the file, or the URL without its password."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return str(sqlite_file(str(url)) or ":memory:")
    return parsed.render_as_string(hide_password=True)


def open_error(url: str | URL, error: BaseException) -> DatabaseOpenError:
    """``error`` (raised while opening or first using the database) as one line."""
    if isinstance(error, DatabaseOpenError):
        return error
    reason = _sqlite_reason(str(url)) or _reason(error)
    return DatabaseOpenError(f"cannot open the database {describe(url)}: {reason}")


async def probe(engine: AsyncEngine) -> None:
    """Open one connection and run one query; DatabaseOpenError if that fails."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as error:
        raise open_error(engine.url, error) from None


def _make_folder(path: Path) -> None:
    """The folder of an SQLite file is created on first use (``./data`` by default)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseOpenError(
            f"cannot open the database {path}: cannot create its folder: {_os_reason(error)}"
        ) from None


def _reason(error: BaseException) -> str:
    if isinstance(error, DBAPIError) and error.orig is not None:
        # asyncpg's own exception (behind SQLAlchemy's adapter) has the server's message.
        error = error.orig.__cause__ or error.orig
    if isinstance(error, OSError):
        return _os_reason(error)
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _os_reason(error: OSError) -> str:
    reason = error.strerror or str(error) or type(error).__name__
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the server running, and on that port?)"
    if isinstance(error, FileExistsError | NotADirectoryError) and error.filename:
        return f"{error.filename} is a file, not a folder"
    return f"{reason}: {error.filename}" if error.filename else reason


def _sqlite_reason(url: str) -> str | None:
    """What is wrong with an SQLite file's place, where SQLite would only say "unable to open
    database file"."""
    path = sqlite_file(url)
    if path is None:
        return None
    if path.is_dir():
        return "it is a folder, not a file"
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist"
    if not path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        return f"the folder {path.parent} is not writable"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return "the file is not readable and writable by this user"
    return None


# -- one server per SQLite file ----------------------------------------------------------------
def lock_for_serving(url: str) -> IO[bytes] | None:
    """Take the SQLite database for this process, for as long as it lives (or the handle is
    closed): an exclusive ``flock`` on ``<file>.lock`` beside it. A second server on the same
    file gets DatabaseInUseError instead of resetting the first one's jobs in flight. The
    kernel drops the lock when the process dies, kill -9 included. None for PostgreSQL and
    in-memory databases (several servers there are a matter of their own)."""
    path = sqlite_file(url)
    if path is None:
        return None
    target = path.resolve()  # one lock whichever path (relative, symlinked) names the file
    lock_path = target.with_name(target.name + ".lock")
    reason = _sqlite_reason(url)
    if reason is not None and target.parent.is_dir():
        raise DatabaseOpenError(f"cannot open the database {path}: {reason}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("ab")
    except OSError as error:
        raise DatabaseOpenError(f"cannot open the database {path}: {_os_reason(error)}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DatabaseInUseError(
            f"another amo-bridge serve is running on the database {path} "
            f"(it holds {lock_path}); run one serve per database"
        ) from None
    return handle
