"""Alembic, configured in code (no alembic.ini): ``upgrade_to_head(url)`` at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseTooNewError(RuntimeError):
    """The database was migrated by a newer release of the bridge."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the schema to this release's head; refuse a database from a newer release."""
    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    current = await current_revision(engine)
    if current is not None and not _known(script, current):
        raise DatabaseTooNewError(
            f"database schema revision {current} is newer than this release knows; "
            "upgrade amo-chat-bridge"
        )
    if current == script.get_current_head():
        return
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _upgrade(sync_connection: object) -> None:
    config = alembic_config(str(getattr(sync_connection, "engine", "")) or "sqlite://")
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")
