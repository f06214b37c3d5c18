"""The receipt side over both stores: what is stored, once, and what is refused."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from bridge.amojo.models import AmojoHook
from bridge.caches import Lookups
from bridge.errors import ScopeMismatchError, UnknownScopeError
from bridge.ids import ConnectionId, ExternalChatId, ExternalMessageId, ExternalUserId
from bridge.jobs import JobKind, payload_to_event
from bridge.keys import hook_lock_key, inbound_lock_key
from bridge.messages import InboundMessage, InboundReaction, Sender
from bridge.relay import HookOutcome, Relay
from storage import Store
from storage.models import Connection, ConnectionState, Job, JobStatus

ACCOUNT = "acc-1"
SCOPE = f"channel_{ACCOUNT}"


@pytest.fixture
async def relay(store: Store) -> Relay:
    async with store.transaction() as uow:
        await uow.save(
            Connection(
                id="c" * 32,
                channel="telegram",
                amojo_account_id=ACCOUNT,
                scope_id=SCOPE,
                external_account_id="4242",
                token_encrypted="x",
                webhook_secret_encrypted="x",
            )
        )
    return Relay(store, Lookups())


async def jobs(store: Store, kind: str) -> list[Job]:
    async with store.read() as uow:
        return await uow.jobs.list(kind=kind)


def message(number: str = "77") -> InboundMessage:
    return InboundMessage(
        ConnectionId("c" * 32),
        ExternalChatId("5001"),
        ExternalMessageId(number),
        Sender(ExternalUserId("5001"), "Anna"),
        sent_at=datetime(2026, 5, 1, tzinfo=UTC),
        text="hi",
    )


def hook_bytes(kind: str = "message", *, account: str = ACCOUNT, age: float = 0) -> bytes:
    conversation = {"id": "chat-uuid", "client_id": "telegram-4242-5001"}
    moment = int(time.time() - age)
    data: dict[str, object] = {"account_id": account, "time": moment}
    if kind == "message":
        data["message"] = {
            "conversation": conversation,
            "message": {"id": "m-1", "type": "text", "text": "hello"},
        }
    else:
        data["action"] = {"typing": {"user": {"id": "op"}, "conversation": conversation}}
    return json.dumps(data).encode()


async def accept(relay: Relay, raw: bytes) -> HookOutcome:
    return await relay.accept_hook(SCOPE, AmojoHook.model_validate_json(raw), raw)


async def test_a_customer_message_is_stored_once_with_its_job(relay: Relay, store: Store) -> None:
    await relay.accept(message())
    await relay.accept(message())
    [job] = await jobs(store, JobKind.DELIVER_INBOUND)
    assert payload_to_event(job.payload["event"]) == message()
    assert job.payload["bridge_msgid"] == "telegram-4242-77"
    assert job.lock_key == inbound_lock_key(job.payload["conversation_id"])


async def test_an_edit_or_reaction_revision_is_stored_once(relay: Relay, store: Store) -> None:
    base = message()
    reaction = InboundReaction(
        base.connection_id, base.chat, base.message, base.sender, base.sent_at, "r1", "👍"
    )
    for _ in range(2):
        await relay.accept(reaction)
    [job] = await jobs(store, JobKind.DELIVER_INBOUND)
    assert job.dedup_key == f"react:{'c' * 32}:77:r1"


async def test_an_event_for_a_disconnected_connection_is_dropped(
    relay: Relay, store: Store
) -> None:
    async with store.transaction() as uow:
        row = await uow.connections.get("c" * 32)
        assert row is not None
        row.state = ConnectionState.DISCONNECTED
        await uow.save(row)
    await relay.accept(message())
    assert await jobs(store, JobKind.DELIVER_INBOUND) == []


async def test_a_hook_is_stored_as_validated_once_in_its_chats_order(
    relay: Relay, store: Store
) -> None:
    raw = hook_bytes()
    assert await accept(relay, raw) == HookOutcome.STORED
    assert await accept(relay, raw) == HookOutcome.DUPLICATE
    [job] = await jobs(store, JobKind.PROCESS_HOOK)
    assert job.payload == {
        "scope_id": SCOPE,
        "hook": AmojoHook.model_validate_json(raw).to_payload(),
    }
    assert job.lock_key == hook_lock_key("c" * 32, "telegram-4242-5001")


async def test_a_hook_naming_another_account_is_refused(relay: Relay, store: Store) -> None:
    with pytest.raises(ScopeMismatchError):
        await accept(relay, hook_bytes(account="someone-else"))
    assert await jobs(store, JobKind.PROCESS_HOOK) == []


async def test_a_hook_for_a_scope_disconnected_elsewhere_is_refused_at_once(
    relay: Relay, store: Store
) -> None:
    assert await accept(relay, hook_bytes()) == HookOutcome.STORED
    # Another process (the CLI) disconnects: nothing tells this relay.
    other = Store(store.engine)
    async with other.transaction() as uow:
        row = await uow.connections.by_scope(SCOPE)
        assert row is not None
        row.state = ConnectionState.DISCONNECTED
        await uow.save(row)
    with pytest.raises(UnknownScopeError):
        await accept(relay, hook_bytes("typing"))


async def test_a_stale_typing_hook_is_dropped_and_a_replayed_one_stored_once(
    relay: Relay, store: Store
) -> None:
    assert await accept(relay, hook_bytes("typing", age=61)) == HookOutcome.STALE
    fresh = hook_bytes("typing")
    assert await accept(relay, fresh) == HookOutcome.STORED
    assert await accept(relay, fresh) == HookOutcome.DUPLICATE
    assert len(await jobs(store, JobKind.PROCESS_HOOK)) == 1


async def test_a_rejected_hook_is_kept_as_a_failed_job_of_its_connection(
    relay: Relay, store: Store
) -> None:
    await relay.reject_hook(SCOPE, b'{"text":"a\x00b\xff"}', "not a hook")
    [job] = await jobs(store, JobKind.REJECTED_HOOK)
    assert (job.status, job.last_error, job.connection_id) == (
        JobStatus.FAILED,
        "not a hook",
        "c" * 32,
    )
    assert job.payload == {"scope_id": SCOPE, "raw": '{"text":"a\ufffdb\ufffd"}'}
    async with store.read() as uow:
        assert (await uow.connections.stats())["c" * 32].failed == 1
    with pytest.raises(UnknownScopeError):
        await relay.reject_hook("unknown", b"{}", "not a hook")
