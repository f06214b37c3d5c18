"""amoCRM → customer: a stored hook becomes one messenger send, and amoCRM hears how it went."""

from __future__ import annotations

import json
import time

import pytest

from bridge.errors import (
    ChatNotFoundError,
    RecipientBlockedError,
    TransientDeliveryError,
)
from bridge.ids import ExternalMessageId
from bridge.jobs import JobKind
from bridge.messages import OutboundReaction
from storage.models import DeliveryStatus
from tests.bridge.delivery.conftest import (
    ACCOUNT,
    CONNECTION,
    CONVERSATION,
    Rig,
    operator_writes,
    store_hook,
)


def action_hook(rig: Rig, action: dict[str, object]) -> bytes:
    chat = rig.emulator.chat_for(rig.scope_id, CONVERSATION)
    assert chat is not None
    conversation = {"id": chat.chat_id, "client_id": CONVERSATION}
    [(name, body)] = action.items()
    assert isinstance(body, dict)
    hook = {"account_id": ACCOUNT, "time": int(time.time())}
    hook["action"] = {name: {**body, "conversation": conversation}}
    return json.dumps(hook).encode()


async def test_an_operator_message_is_sent_once_and_reported_delivered(chatting: Rig) -> None:
    rig = chatting
    amojo_id = await operator_writes(rig, "How can I help?")
    job = await rig.job(JobKind.PROCESS_HOOK)
    await rig.outbound.run_hook(job)
    await rig.complete(job)
    [(connection, chat, message)] = rig.channel.sent
    assert (connection, chat, message.text) == (CONNECTION, "5001", "How can I help?")
    assert [
        (s.amojo_msgid, s.body["delivery_status"]) for s in rig.emulator.delivery_statuses
    ] == [(amojo_id, 1)]
    async with rig.store.read() as uow:
        link = await uow.links.by_amojo_msgid(amojo_id)
    assert link is not None and link.status == DeliveryStatus.DELIVERED


async def test_a_hook_run_again_after_a_crash_is_not_sent_twice(chatting: Rig) -> None:
    rig = chatting
    await operator_writes(rig, "Once")
    job = await rig.job(JobKind.PROCESS_HOOK)
    await rig.outbound.run_hook(job)  # sent and recorded; the completion is lost
    await rig.outbound.run_hook(await rig.job(JobKind.PROCESS_HOOK, attempts=2))
    assert len(rig.channel.sent) == 1
    async with rig.store.read() as uow:
        reports = await uow.jobs.list(kind=JobKind.REPORT_DELIVERY)
    assert [job.payload["status"] for job in reports] == [1]  # the status, queued instead


async def test_a_message_the_customer_cannot_receive_is_reported_failed(chatting: Rig) -> None:
    rig = chatting
    amojo_id = await operator_writes(rig, "Hello?")
    blocked = RecipientBlockedError("the customer blocked the bot")
    rig.channel.fail_next("send", blocked)
    job = await rig.job(JobKind.PROCESS_HOOK)
    with pytest.raises(RecipientBlockedError):
        await rig.outbound.run_hook(job)
    await rig.outbound.hook_dead(job, blocked)
    async with rig.store.read() as uow:
        link = await uow.links.by_amojo_msgid(amojo_id)
        [report] = await uow.jobs.list(kind=JobKind.REPORT_DELIVERY)
    assert link is not None and link.status == DeliveryStatus.FAILED
    assert (report.payload["status"], report.payload["error_code"]) == (-1, 901)
    assert report.payload["error"] == "the customer blocked the bot"


async def test_a_hook_for_a_chat_the_bridge_never_saw_is_refused(rig: Rig) -> None:
    raw = json.dumps(
        {
            "account_id": ACCOUNT,
            "message": {
                "conversation": {"id": "unknown-chat", "client_id": "fake-4242-9999"},
                "message": {"id": "m-1", "type": "text", "text": "hi"},
            },
        }
    ).encode()
    await store_hook(rig, raw)
    with pytest.raises(ChatNotFoundError):
        await rig.outbound.run_hook(await rig.job(JobKind.PROCESS_HOOK))
    assert rig.channel.sent == []


async def test_typing_is_shown_and_a_failure_to_show_it_is_not_retried(chatting: Rig) -> None:
    rig = chatting
    await store_hook(rig, action_hook(rig, {"typing": {"user": {"id": "op"}}}))
    await rig.outbound.run_hook(await rig.job(JobKind.PROCESS_HOOK))
    assert rig.channel.typing == [(CONNECTION, "5001")]
    rig.channel.fail_next("send_typing", TransientDeliveryError("flood"))
    await store_hook(rig, action_hook(rig, {"typing": {"user": {"id": "op2"}}}))
    await rig.outbound.run_hook(await rig.job(JobKind.PROCESS_HOOK))  # does not raise
    assert len(rig.channel.typing) == 1


async def test_a_reaction_lands_on_the_customers_message(chatting: Rig) -> None:
    rig = chatting
    [customer_message] = rig.emulator.messages
    reaction = {"message": {"id": customer_message.amojo_id}, "type": "react", "emoji": "👍"}
    await store_hook(rig, action_hook(rig, {"reaction": reaction}))
    await rig.outbound.run_hook(await rig.job(JobKind.PROCESS_HOOK))
    assert rig.channel.reactions == [
        (CONNECTION, "5001", OutboundReaction(ExternalMessageId("77"), "👍"))
    ]
