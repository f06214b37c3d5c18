"""Customer → amoCRM over real HTTP: aiogram ⇄ Bot API emulator, bridge, Chats API emulator."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import DeliveryStatus, MessageLink
from tests.e2e.conftest import BOT_ID, CUSTOMER, TOKEN, Connected


async def test_customer_text_arrives_with_stable_ids(connected: Connected) -> None:
    sent_ids = [
        connected.telegram.user_sends_text(TOKEN, CUSTOMER, text)["message_id"]
        for text in ("Hello!", "Are you open today?")
    ]
    await connected.amojo.wait_for(lambda: len(connected.amojo.messages) == 2)
    first, second = connected.amojo.messages
    assert [m.message["text"] for m in (first, second)] == ["Hello!", "Are you open today?"]
    assert first.conversation_id == second.conversation_id == connected.conversation_id()
    assert (
        first.payload["sender"]["id"]
        == second.payload["sender"]["id"]
        == f"telegram-{BOT_ID}-user-{CUSTOMER}"
    )
    assert first.payload["sender"]["name"] == "Anna Petrova"
    assert first.payload["sender"]["profile_link"] == "https://t.me/anna_p"
    assert first.msgid == f"telegram-{BOT_ID}-{CUSTOMER}:{sent_ids[0]}"
    assert second.msgid == f"telegram-{BOT_ID}-{CUSTOMER}:{sent_ids[1]}"
    assert first.msgid != second.msgid
    assert first.payload["silent"] is False
    assert connected.amojo.rejected == []  # every request was correctly signed and typed


async def test_two_customers_get_two_conversations(connected: Connected) -> None:
    connected.telegram.add_user(5002, "Boris", None, None)
    await connected.customer_writes("from Anna")
    await connected.customer_writes("from Boris", user=5002)
    anna, boris = connected.amojo.messages
    assert anna.conversation_id != boris.conversation_id
    assert boris.payload["sender"]["name"] == "Boris"
    assert "profile_link" not in boris.payload["sender"]  # no username, no link


async def test_stored_link_maps_both_sides(connected: Connected) -> None:
    worker = connected.bridge.container.worker
    await connected.customer_writes("Hello!")
    await worker.wait_until(lambda: worker.outcomes["succeeded"] >= 1)
    received = connected.amojo.messages[0]
    async with connected.bridge.container.store.read() as uow:
        links = list((await uow.session.execute(select(MessageLink))).scalars())
    assert len(links) == 1
    assert links[0].direction == "in"
    assert links[0].bridge_msgid == received.msgid
    assert links[0].amojo_msgid == received.amojo_id
    assert links[0].status == DeliveryStatus.DELIVERED


async def test_webhook_mode_update_is_stored_then_acknowledged(
    connected_webhook_mode: Connected,
) -> None:
    connected = connected_webhook_mode
    await connected.customer_writes("via webhook")
    assert connected.amojo.messages[0].message["text"] == "via webhook"
    deliveries = connected.telegram.webhook_deliveries
    assert deliveries and all(d.status == 200 for d in deliveries)
    webhook = connected.telegram.bots[TOKEN].webhook
    assert webhook is not None
    assert webhook.url.endswith(f"/telegram/webhook/{BOT_ID}")
    assert TOKEN.split(":")[1] not in webhook.url
