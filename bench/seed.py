"""A store that has been in service for a while: conversations, messages and finished jobs.

Rows are written straight into the migrated schema, in big batches (SQLite: ``executemany``
in large transactions with ``synchronous=OFF``; PostgreSQL: ``COPY``), shaped like the bridge
writes them: per conversation half the messages came in, half went out; every incoming one
left a succeeded ``deliver_inbound`` job, every outgoing one a ``process_amojo_hook`` and a
``report_delivery`` job. Fresh databases come from here too (a file, or a new PostgreSQL
database that is dropped afterwards).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.config import ACCOUNT, PRELOAD_USER_BASE, TOKEN

BATCH = 100_000
BOT_ID = TOKEN.partition(":")[0]
DAY = 86_400.0
HISTORY_IDS = 1_000_000_000

CONTACT = ("id", "connection_id", "external_user_id", "display_name", "username")
CONTACT += ("amojo_user_id", "created_at")
CONVERSATION = ("id", "connection_id", "external_chat_id", "contact_id")
CONVERSATION += ("amojo_conversation_id", "amojo_chat_id", "created_at")
LINK = ("id", "conversation_id", "direction", "external_message_id", "amojo_msgid")
LINK += ("bridge_msgid", "status", "last_error", "created_at", "updated_at")
JOB = ("kind", "connection_id", "payload", "status", "attempts", "run_at", "lease_until")
JOB += ("lock_key", "dedup_key", "last_error", "worker_id", "created_at", "updated_at")


@dataclass(frozen=True)
class Preload:
    connection_id: str
    scope_id: str
    conversations: int
    messages: int  # spread evenly over the conversations

    def chat(self, index: int) -> int:
        return PRELOAD_USER_BASE + index


def fake_uuid(kind: int, number: int) -> str:
    """Unique, uuid-shaped (so indexes hold keys of the real length), cheap to make."""
    return f"{kind:08x}-0000-4000-8000-{number:012x}"


def contacts(p: Preload, now: float) -> Iterator[tuple[Any, ...]]:
    for i in range(p.conversations):
        yield (i + 1, p.connection_id, str(p.chat(i)), f"Customer {i}", None, fake_uuid(1, i), now)


def conversations(p: Preload, now: float) -> Iterator[tuple[Any, ...]]:
    for i in range(p.conversations):
        key = f"telegram-{BOT_ID}-{p.chat(i)}"
        yield (i + 1, p.connection_id, str(p.chat(i)), i + 1, key, fake_uuid(2, i), now)


def _inbound_payload(p: Preload, conversation: int, chat: int, message: str, sent: float) -> str:
    event = {
        "connection_id": p.connection_id,
        "chat": str(chat),
        "message": message,
        "sender": {"external_id": str(chat), "name": "Customer", "username": None},
        "type": "message",
        "sent_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(sent)),
        "text": "a message from the past",
        "attachments": [],
        "reply_to": None,
    }
    return json.dumps({"event": event, "conversation_id": conversation})


def _hook_payload(p: Preload, chat: int, amojo_id: str, sent: float) -> str:
    message = {
        "receiver": {"id": fake_uuid(1, chat), "client_id": f"telegram-{BOT_ID}-user-{chat}"},
        "sender": {"id": fake_uuid(3, 0), "name": "Operator"},
        "conversation": {"id": fake_uuid(2, chat), "client_id": f"telegram-{BOT_ID}-{chat}"},
        "timestamp": int(sent),
        "msec_timestamp": int(sent * 1000),
        "message": {"id": amojo_id, "type": "text", "text": "an answer from the past"},
    }
    hook = {"account_id": ACCOUNT, "time": int(sent), "message": message}
    return json.dumps({"scope_id": p.scope_id, "hook": hook})


def links_and_jobs(
    p: Preload, now: float
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(message_link row, its job rows), oldest first, over the last 30 days."""
    per_conversation = max(1, p.messages // max(1, p.conversations))
    step = 30 * DAY / max(1, p.messages)
    for n in range(p.messages):
        index = n // per_conversation % p.conversations
        conversation, chat = index + 1, p.chat(index)
        sent = now - 30 * DAY + n * step
        # far above the ids the Telegram emulator gives a chat's new messages (1, 2, ...),
        # which would otherwise be taken for redeliveries of history and dropped as such
        external = f"{chat}:{HISTORY_IDS + n}"
        amojo_id = fake_uuid(4, n)
        common = ("succeeded", 1, sent, None)
        if n % 2 == 0:
            bridge_msgid = f"telegram-{BOT_ID}-{external}"
            link = (n + 1, conversation, "in", external, amojo_id, bridge_msgid, "delivered")
            payload = _inbound_payload(p, conversation, chat, external, sent)
            jobs = [
                ("deliver_inbound", p.connection_id, payload, *common, f"in:{conversation}")
                + (f"in:{n + 1}", None, "bench", sent, sent)
            ]
        else:
            link = (n + 1, conversation, "out", external, amojo_id, None, "delivered")
            lock = f"out:{p.connection_id}:telegram-{BOT_ID}-{chat}"
            hook = _hook_payload(p, chat, amojo_id, sent)
            report = json.dumps(
                {"scope_id": p.scope_id, "amojo_msgid": amojo_id, "status": 1}
                | {"error_code": None, "error": None}
            )
            jobs = [
                ("process_amojo_hook", p.connection_id, hook, *common, lock)
                + (f"hook:{p.scope_id}:{amojo_id}", None, "bench", sent, sent),
                ("report_delivery", p.connection_id, report, *common, None)
                + (f"report:{amojo_id}:1", None, "bench", sent, sent),
            ]
        yield (*link, None, sent, sent), jobs


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def preload_sqlite(path: Path, p: Preload) -> None:
    now = time.time()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        # Set-up only, not the bridge's writes: nothing here needs to survive a power cut.
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-262144")
        db.execute("BEGIN")
        db.executemany(_insert_sql("contact", CONTACT), contacts(p, now))
        db.executemany(_insert_sql("conversation", CONVERSATION), conversations(p, now))
        db.execute("COMMIT")
        link_sql, job_sql = _insert_sql("message_link", LINK), _insert_sql("job", JOB)
        links: list[tuple[Any, ...]] = []
        jobs: list[tuple[Any, ...]] = []
        for link, its_jobs in links_and_jobs(p, now):
            links.append(link)
            jobs.extend(its_jobs)
            if len(links) >= BATCH:
                _write_sqlite(db, link_sql, links, job_sql, jobs)
        _write_sqlite(db, link_sql, links, job_sql, jobs)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def _write_sqlite(
    db: sqlite3.Connection,
    link_sql: str,
    links: list[tuple[Any, ...]],
    job_sql: str,
    jobs: list[tuple[Any, ...]],
) -> None:
    db.execute("BEGIN")
    db.executemany(link_sql, links)
    db.executemany(job_sql, jobs)
    db.execute("COMMIT")
    links.clear()
    jobs.clear()


async def preload_postgres(url: str, p: Preload) -> None:
    import asyncpg

    now = time.time()
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await connection.copy_records_to_table(
            "contact", records=list(contacts(p, now)), columns=CONTACT
        )
        await connection.copy_records_to_table(
            "conversation", records=list(conversations(p, now)), columns=CONVERSATION
        )
        links: list[tuple[Any, ...]] = []
        jobs: list[tuple[Any, ...]] = []
        for link, its_jobs in links_and_jobs(p, now):
            links.append(link)
            jobs.extend(its_jobs)
            if len(links) >= BATCH:
                await _copy(connection, links, jobs)
        await _copy(connection, links, jobs)
        # ids were given explicitly: move the sequences past them, as inserts would have
        for table in ("contact", "conversation", "message_link"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def _copy(
    connection: Any, links: list[tuple[Any, ...]], jobs: list[tuple[Any, ...]]
) -> None:
    await connection.copy_records_to_table("message_link", records=links, columns=LINK)
    await connection.copy_records_to_table("job", records=jobs, columns=JOB)
    links.clear()
    jobs.clear()


# -- fresh databases ---------------------------------------------------------------------------


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Databases:
    """Hands out one fresh database per scenario: a file under ``workdir`` for SQLite, a new
    database on the server for PostgreSQL (dropped by ``drop_all``)."""

    def __init__(self, base_url: str | None, workdir: Path) -> None:
        self.base_url = base_url
        self.workdir = workdir
        self._created: list[str] = []

    @property
    def kind(self) -> str:
        return "PostgreSQL" if self.base_url else "SQLite (file, WAL)"

    async def fresh(self, name: str) -> str:
        if not self.base_url:
            return f"sqlite+aiosqlite:///{self.workdir / name}.db"
        import asyncpg

        database = f"bench_{name}_{uuid.uuid4().hex[:8]}".replace("-", "_")
        admin = await asyncpg.connect(_asyncpg_dsn(self.base_url))
        try:
            await admin.execute(f'CREATE DATABASE "{database}"')
        finally:
            await admin.close()
        self._created.append(database)
        return make_url(self.base_url).set(database=database).render_as_string(hide_password=False)

    async def preload(self, url: str, preload: Preload) -> None:
        if url.startswith("sqlite"):
            path = make_url(url).database
            assert path is not None
            preload_sqlite(Path(path), preload)
        else:
            await preload_postgres(url, preload)

    async def drop_all(self) -> None:
        if not self.base_url or not self._created:
            return
        import asyncpg

        admin = await asyncpg.connect(_asyncpg_dsn(self.base_url))
        try:
            for database in self._created:
                await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()
        self._created.clear()
