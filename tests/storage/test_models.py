"""The tables' constraints, as the migrated schema enforces them on SQLite and PostgreSQL: a
duplicate key or a row pointing at nothing is refused by the database itself."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from storage import Store
from storage.models import (
    Connection,
    Contact,
    Conversation,
    Direction,
    Job,
    JobStatus,
    MessageLink,
)
from tests.storage.rows import add_connection, add_conversation


async def refused(store: Store, row: SQLModel) -> None:
    with pytest.raises(IntegrityError):
        async with store.transaction() as uow:
            await uow.save(row)


def connection(name: str, **changes: str) -> Connection:
    fields: dict[str, Any] = {
        "id": name,
        "channel": "telegram",
        "amojo_account_id": f"account-{name}",
        "scope_id": f"scope-{name}",
        "external_account_id": f"bot-{name}",
        "token_encrypted": "sealed",
        "webhook_secret_encrypted": "sealed",
    } | changes
    return Connection(**fields)


@pytest.mark.parametrize(
    "duplicate",
    [
        {"id": "c1"},
        {"scope_id": "scope-c1"},
        {"amojo_account_id": "account-c1"},  # one connection per channel and account
        {"external_account_id": "bot-c1"},  # one connection per bot
    ],
)
async def test_a_second_connection_with_a_taken_key_is_refused(
    store: Store, duplicate: dict[str, str]
) -> None:
    await add_connection(store)
    await refused(store, connection("c2", **duplicate))
    await add_connection(store, "c2")  # the same fields, unique ones changed, are fine


async def test_the_same_account_on_another_channel_is_another_connection(store: Store) -> None:
    await add_connection(store)
    async with store.transaction() as uow:
        await uow.save(
            connection(
                "c2", channel="other", amojo_account_id="account-c1", external_account_id="bot-c1"
            )
        )


async def test_a_contact_is_one_per_user_and_connection(store: Store) -> None:
    await add_connection(store)
    await add_conversation(store, "c1", "chat-1")  # made user "user-chat-1"
    await refused(store, Contact(connection_id="c1", external_user_id="user-chat-1"))


async def test_a_conversation_is_one_per_chat_and_connection(store: Store) -> None:
    await add_connection(store)
    contact, _ = await add_conversation(store, "c1", "chat-1")
    await refused(
        store,
        Conversation(
            connection_id="c1",
            external_chat_id="chat-1",
            contact_id=contact,
            amojo_conversation_id="another",
        ),
    )


async def test_rows_pointing_at_nothing_are_refused(store: Store) -> None:
    await refused(store, Contact(connection_id="no-such-connection", external_user_id="u"))
    await add_connection(store)
    await refused(
        store,
        Conversation(
            connection_id="c1", external_chat_id="x", contact_id=999, amojo_conversation_id="x"
        ),
    )


@pytest.mark.parametrize("key", ["amojo_msgid", "bridge_msgid"])
async def test_a_message_link_id_names_one_message(store: Store, key: str) -> None:
    await add_connection(store)
    _, conversation = await add_conversation(store, "c1", "chat-1")

    def link(external: str) -> MessageLink:
        return MessageLink(
            conversation_id=conversation,
            direction=Direction.IN,
            external_message_id=external,
            **{key: "the-same-id"},  # type: ignore[arg-type]
        )

    async with store.transaction() as uow:
        await uow.save(link("1"))
    await refused(store, link("2"))


async def test_a_dedup_key_and_a_running_lock_key_are_each_held_once(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.save(Job(kind="k", dedup_key="d"))
        await uow.save(Job(kind="k", lock_key="chat-1", status=JobStatus.DOING))
        await uow.save(Job(kind="k", lock_key="chat-1"))  # waiting behind it: allowed
    await refused(store, Job(kind="k", dedup_key="d"))
    await refused(store, Job(kind="k", lock_key="chat-1", status=JobStatus.DOING))
