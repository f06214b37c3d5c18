"""Opening the database: SQLite's pragmas, the read-only reader, one-line open errors, and one
serving process per SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage.db import (
    DatabaseInUseError,
    DatabaseOpenError,
    create_engine,
    create_reader,
    describe,
    lock_for_serving,
    probe,
)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def test_sqlite_is_opened_in_wal_with_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path / "bridge.db"))
    try:
        async with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert (await pragma("PRAGMA journal_mode")).scalar() == "wal"
            assert (await pragma("PRAGMA synchronous")).scalar() == 2  # FULL
            assert (await pragma("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await engine.dispose()


async def test_the_sqlite_reader_cannot_write(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path / "bridge.db"))
    reader = create_reader(engine)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
        async with reader.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar() == 0
            with pytest.raises(OperationalError, match="readonly"):
                await connection.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        await reader.dispose()
        await engine.dispose()


async def test_a_folder_where_the_file_should_be_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bridge.db").mkdir()
    engine = create_engine(sqlite_url(tmp_path / "bridge.db"))
    try:
        with pytest.raises(DatabaseOpenError) as caught:
            await probe(engine)
    finally:
        await engine.dispose()
    assert str(caught.value) == (
        f"cannot open the database {tmp_path / 'bridge.db'}: it is a folder, not a file"
    )


def test_a_file_where_the_folder_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(DatabaseOpenError, match=r"cannot create its folder: .*data is a file"):
        create_engine(sqlite_url(tmp_path / "data" / "bridge.db"))


async def test_an_unreachable_postgresql_is_one_line_without_the_password() -> None:
    url = "postgresql+asyncpg://bridge:s3cret-pw@127.0.0.1:1/bridge"
    engine = create_engine(url)
    try:
        with pytest.raises(DatabaseOpenError) as caught:
            await probe(engine)
    finally:
        await engine.dispose()
    message = str(caught.value)
    assert "\n" not in message and "s3cret-pw" not in message
    assert message.startswith("cannot open the database postgresql+asyncpg://bridge:***@")
    assert "connection refused" in message


def test_describe_names_the_file_or_the_url_without_its_password(tmp_path: Path) -> None:
    assert describe(sqlite_url(tmp_path / "b.db")) == str(tmp_path / "b.db")
    assert (
        describe("postgresql+asyncpg://u:pw@db:5432/x") == "postgresql+asyncpg://u:***@db:5432/x"
    )


def test_one_serving_process_per_sqlite_file(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "bridge.db")
    first = lock_for_serving(url)
    assert first is not None
    try:
        with pytest.raises(DatabaseInUseError, match="one serve per database"):
            lock_for_serving(url)
    finally:
        first.close()
    again = lock_for_serving(url)  # released with its handle
    assert again is not None
    again.close()
    assert lock_for_serving("postgresql+asyncpg://u@127.0.0.1/x") is None
