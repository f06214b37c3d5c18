"""Alembic, configured in code (no alembic.ini): ``upgrade_to_head(engine)`` at start-up.

A database already at this release's head is recognised by one query, without importing
Alembic: Alembic brings Mako and Pygments along, 11 MB of a running bridge's memory for a
check that finds nothing to do on every start but the first after an upgrade.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions; tests/storage/test_migrations.py checks it
# against Alembic's own idea of the head.
HEAD = "0003"


class DatabaseTooNewError(RuntimeError):
    """The database was migrated by a newer release of the bridge."""


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The head as Alembic finds it in migrations/versions."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None for a database Alembic never touched."""
    async with engine.connect() as connection:
        try:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        except DBAPIError:  # no such table: a new database
            return None
        return result.scalar_one_or_none()


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the schema to this release's head; refuse a database from a newer release."""
    current = await current_revision(engine)
    if current == HEAD:
        return
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
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
    from alembic.util import CommandError

    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _upgrade(sync_connection: object) -> None:
    from alembic import command

    config = alembic_config(str(getattr(sync_connection, "engine", "")) or "sqlite://")
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")
