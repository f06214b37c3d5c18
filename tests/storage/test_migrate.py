"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import storage.models  # noqa: F401
from storage import create_engine, upgrade_to_head
from storage.migrate import HEAD, DatabaseTooNewError, current_revision, head_revision


def test_the_head_the_bridge_checks_at_start_is_alembics_head() -> None:
    assert head_revision() == HEAD


async def test_upgrade_to_head_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine)
        await upgrade_to_head(engine)  # a second run is a no-op
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
            )
        assert diff == []
    finally:
        await engine.dispose()


async def test_a_database_from_a_newer_release_is_refused(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine)
        async with engine.begin() as connection:
            await connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
        with pytest.raises(DatabaseTooNewError):
            await upgrade_to_head(engine)
    finally:
        await engine.dispose()
