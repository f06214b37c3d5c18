"""The statements that differ between SQLite and PostgreSQL, compiled for each."""

from __future__ import annotations

import re

from sqlalchemy import Executable
from sqlalchemy.dialects import postgresql, sqlite

from storage import Store, dialect
from storage.models import Contact, MessageLink

CONTACT = Contact.__table__  # type: ignore[attr-defined]
LINK = MessageLink.__table__  # type: ignore[attr-defined]


def _sql(statement: Executable, name: str) -> str:
    compiler = postgresql.dialect() if name == dialect.POSTGRESQL else sqlite.dialect()  # type: ignore[no-untyped-call]
    return " ".join(str(statement.compile(dialect=compiler)).split())  # type: ignore[attr-defined]


def test_insert_returning_id_on_both_dialects() -> None:
    for name in (dialect.SQLITE, dialect.POSTGRESQL):
        sql = _sql(dialect.insert_returning_id(name, CONTACT), name)
        assert sql.startswith("INSERT INTO contact ")
        assert re.search(r"\) RETURNING (contact\.)?id$", sql)


def test_insert_ignore_names_the_conflict_target_only_when_given() -> None:
    for name in (dialect.SQLITE, dialect.POSTGRESQL):
        bare = _sql(dialect.insert_ignore_returning_id(name, CONTACT), name)
        assert re.search(r"\) ON CONFLICT DO NOTHING RETURNING (contact\.)?id$", bare)
        keyed = _sql(dialect.insert_ignore_returning_id(name, LINK, ("bridge_msgid",)), name)
        assert re.search(
            r"\) ON CONFLICT \(bridge_msgid\) DO NOTHING RETURNING (message_link\.)?id$", keyed
        )


def test_statements_are_built_once_per_dialect_and_table() -> None:
    first = dialect.insert_returning_id(dialect.SQLITE, CONTACT)
    assert dialect.insert_returning_id(dialect.SQLITE, CONTACT) is first
    assert dialect.insert_returning_id(dialect.POSTGRESQL, CONTACT) is not first


def test_the_claim_skips_locked_rows_on_postgresql_and_forces_the_index_on_sqlite() -> None:
    assert dialect.claim_walk(dialect.POSTGRESQL) == ("", " FOR UPDATE SKIP LOCKED")
    assert dialect.claim_walk(dialect.SQLITE) == ("INDEXED BY ix_job_active_id", "")
    assert dialect.claims_can_race(dialect.POSTGRESQL)
    assert not dialect.claims_can_race(dialect.SQLITE)


async def test_the_dialect_is_read_from_the_sessions_engine(store: Store) -> None:
    async with store.transaction() as uow:
        name = dialect.of(uow.session)
    assert name == store.engine.dialect.name
    assert name in (dialect.SQLITE, dialect.POSTGRESQL)
