"""Tables. Every constraint is named: Alembic's SQLite batch mode needs the names."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING


def now() -> float:
    return time.time()


class ConnectionMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class ConnectionState(StrEnum):
    ACTIVE = "active"
    DISCONNECTED = "disconnected"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


# ``job.last_error`` of a job whose attempt stopped without ending (the process died, or its
# lease ran out): the next attempt cannot know how far the last one got.
INTERRUPTED = "interrupted: the bridge stopped while this job ran"


class JobStatus(StrEnum):
    TODO = "todo"
    DOING = "doing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Connection(SQLModel, table=True):
    """One messenger account (a bot) connected to one amoCRM account scope."""

    __tablename__ = "connection"
    __table_args__ = (
        UniqueConstraint("channel", "amojo_account_id", name="uq_connection_channel_account"),
        UniqueConstraint("scope_id", name="uq_connection_scope_id"),
        UniqueConstraint("channel", "external_account_id", name="uq_connection_channel_external"),
    )

    id: str = Field(primary_key=True, max_length=32)
    channel: str = Field(max_length=32)
    amojo_account_id: str = Field(max_length=64)
    scope_id: str = Field(max_length=160)
    title: str = Field(default="", max_length=255)
    external_account_id: str = Field(max_length=64)
    external_account_name: str = Field(default="", max_length=255)
    token_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    webhook_secret_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    mode: str = Field(default=ConnectionMode.POLLING, max_length=16)
    state: str = Field(default=ConnectionState.ACTIVE, max_length=16)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)
    # Written by the serving process for ``status`` (another process): see bridge/receivers.py.
    receiver_state: str | None = Field(default=None, max_length=16)
    receiver_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    receiver_since: float | None = None
    receiver_last_ok: float | None = None


class Contact(SQLModel, table=True):
    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_user_id", name="uq_contact_connection_user"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connection_id: str = Field(foreign_key="connection.id", max_length=32)
    external_user_id: str = Field(max_length=128)
    display_name: str = Field(default="", max_length=255)
    username: str | None = Field(default=None, max_length=255)
    amojo_user_id: str | None = Field(default=None, max_length=64)
    created_at: float = Field(default_factory=now)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversation"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_chat_id", name="uq_conversation_chat"),
        UniqueConstraint(
            "connection_id", "amojo_conversation_id", name="uq_conversation_amojo_conversation"
        ),
        Index("ix_conversation_amojo_chat_id", "amojo_chat_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connection_id: str = Field(foreign_key="connection.id", max_length=32)
    external_chat_id: str = Field(max_length=128)
    contact_id: int = Field(foreign_key="contact.id")
    amojo_conversation_id: str = Field(max_length=128)
    amojo_chat_id: str | None = Field(default=None, max_length=64)
    created_at: float = Field(default_factory=now)


class MessageLink(SQLModel, table=True):
    """One message known on both sides: the messenger's id ↔ amoCRM's id ↔ our msgid."""

    __tablename__ = "message_link"
    __table_args__ = (
        UniqueConstraint(
            "conversation_id", "direction", "external_message_id", name="uq_message_link_external"
        ),
        UniqueConstraint("amojo_msgid", name="uq_message_link_amojo_msgid"),
        UniqueConstraint("bridge_msgid", name="uq_message_link_bridge_msgid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id")
    direction: str = Field(max_length=8)
    external_message_id: str | None = Field(default=None, max_length=128)
    amojo_msgid: str | None = Field(default=None, max_length=64)
    bridge_msgid: str | None = Field(default=None, max_length=160)
    status: str = Field(default=DeliveryStatus.QUEUED, max_length=16)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)


class Job(SQLModel, table=True):
    """A unit of durable work. ``lock_key`` orders jobs; ``dedup_key`` makes enqueue idempotent."""

    __tablename__ = "job"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_job_dedup_key"),
        # The claim query reads only runnable jobs; a partial index keeps it small however
        # many finished jobs the table holds.
        Index(
            "ix_job_runnable",
            "status",
            "run_at",
            "id",
            sqlite_where=text("status IN ('todo', 'doing')"),
            postgresql_where=text("status IN ('todo', 'doing')"),
        ),
        # The claim's walk in id order (see queue._CANDIDATE), stopping at its LIMIT.
        Index(
            "ix_job_active_id",
            "id",
            sqlite_where=text("status IN ('todo', 'doing')"),
            postgresql_where=text("status IN ('todo', 'doing')"),
        ),
        Index(
            "ix_job_lock_key_active",
            "lock_key",
            "id",
            sqlite_where=text("status IN ('todo', 'doing')"),
            postgresql_where=text("status IN ('todo', 'doing')"),
        ),
        Index(
            "uq_job_lock_key_doing",
            "lock_key",
            unique=True,
            sqlite_where=text("status = 'doing'"),
            postgresql_where=text("status = 'doing'"),
        ),
        Index("ix_job_connection_status", "connection_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    connection_id: str | None = Field(default=None, max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=JobStatus.TODO, max_length=16)
    attempts: int = 0
    run_at: float = Field(default_factory=now)
    lease_until: float | None = None
    lock_key: str | None = Field(default=None, sa_column=Column(String(160), nullable=True))
    dedup_key: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    worker_id: str | None = Field(default=None, max_length=64)
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)
