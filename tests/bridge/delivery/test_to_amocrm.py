"""Customer → amoCRM: a stored event becomes Chats API calls, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.ids import ConnectionId, ExternalChatId, ExternalMessageId, ExternalUserId
from bridge.jobs import JobKind
from bridge.messages import InboundEdit, InboundMessage, Sender
from storage.models import DeliveryStatus, Direction
from tests.bridge.delivery.conftest import CONNECTION, Rig

SENDER = Sender(ExternalUserId("5001"), "Anna", "anna_p")
CHAT = ExternalChatId("5001")


def message(number: str, text: str) -> InboundMessage:
    return InboundMessage(
        ConnectionId(CONNECTION),
        CHAT,
        ExternalMessageId(number),
        SENDER,
        sent_at=datetime.now(UTC),
        text=text,
    )


async def link_status(rig: Rig, number: str) -> str:
    async with rig.store.read() as uow:
        conversation = await uow.conversations.by_amojo(CONNECTION, "fake-4242-5001", None)
        assert conversation is not None and conversation.id is not None
        link = await uow.links.by_external(conversation.id, number, Direction.IN)
    assert link is not None
    return link.status


async def test_the_first_message_opens_the_chat_and_is_delivered(rig: Rig) -> None:
    await rig.relay.accept(message("77", "Hello"))
    job = await rig.job(JobKind.DELIVER_INBOUND)
    await rig.inbound.run(job)
    await rig.complete(job)
    [sent] = rig.emulator.messages
    assert (sent.msgid, sent.message["text"]) == ("fake-4242-77", "Hello")
    assert sent.payload["sender"]["id"] == "fake-4242-user-5001"
    assert await link_status(rig, "77") == DeliveryStatus.DELIVERED


async def test_a_job_run_again_after_a_lost_completion_sends_nothing_new(rig: Rig) -> None:
    await rig.relay.accept(message("77", "Hello"))
    first = await rig.job(JobKind.DELIVER_INBOUND)
    await rig.inbound.run(first)  # sent, but the process dies before the job completes
    again = await rig.job(JobKind.DELIVER_INBOUND, attempts=2)
    await rig.inbound.run(again)  # amoCRM refuses the msgid; its history shows it arrived
    await rig.complete(again)
    assert len(rig.emulator.messages) == 1
    assert await link_status(rig, "77") == DeliveryStatus.DELIVERED


async def test_an_edit_changes_the_delivered_message(rig: Rig) -> None:
    await rig.relay.accept(message("77", "Helo"))
    job = await rig.job(JobKind.DELIVER_INBOUND)
    await rig.inbound.run(job)
    await rig.complete(job)
    edit = InboundEdit(
        ConnectionId(CONNECTION),
        CHAT,
        ExternalMessageId("77"),
        SENDER,
        edited_at=datetime.now(UTC),
        revision="r1",
        text="Hello",
    )
    await rig.relay.accept(edit)
    await rig.inbound.run(await rig.job(JobKind.DELIVER_INBOUND))
    [sent] = rig.emulator.messages
    assert sent.message["text"] == "Hello"


async def test_a_message_that_fails_for_good_is_marked_failed(rig: Rig) -> None:
    await rig.relay.accept(message("77", "Hello"))
    job = await rig.job(JobKind.DELIVER_INBOUND)
    await rig.inbound.on_dead(job, RuntimeError("gave up"))
    assert await link_status(rig, "77") == DeliveryStatus.FAILED
