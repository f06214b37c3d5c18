"""amoCRM → customer over real HTTP: signed hook → bridge → aiogram → Bot API emulator → status."""

from __future__ import annotations

from tests.e2e.conftest import CUSTOMER, Connected


def send_calls(connected: Connected) -> list[int]:
    return [c.status for c in connected.telegram.calls if c.method.lower() == "sendmessage"]


async def test_operator_reply_reaches_the_customer_and_is_reported_delivered(
    connected: Connected,
) -> None:
    await connected.customer_writes("Hi")
    reply = await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), "Hello Anna, how can I help?"
    )
    assert reply.status == 200
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
    [sent] = connected.telegram.sent_to(CUSTOMER)
    assert sent.params["text"] == "Hello Anna, how can I help?"
    [status] = connected.amojo.delivery_statuses
    assert status.amojo_msgid == reply.id
    assert status.body == {"msgid": reply.id, "delivery_status": 1}
    assert connected.amojo.rejected == []


async def test_replies_of_one_chat_go_out_in_order(connected: Connected) -> None:
    await connected.customer_writes("Hi")
    texts = [f"answer {n}" for n in range(6)]
    for text in texts:
        await connected.amojo.send_operator_message(
            connected.scope_id, connected.conversation_id(), text
        )
    await connected.telegram.wait_for(lambda: len(connected.telegram.sent_to(CUSTOMER)) == 6)
    assert [m.params["text"] for m in connected.telegram.sent_to(CUSTOMER)] == texts


async def test_blocked_bot_is_reported_as_901_without_retrying(connected: Connected) -> None:
    await connected.customer_writes("Hi")
    connected.telegram.block_user(CUSTOMER)
    reply = await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), "Are you there?"
    )
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
    [status] = connected.amojo.delivery_statuses
    assert status.body["msgid"] == reply.id
    assert status.body["delivery_status"] == -1
    assert status.body["error_code"] == 901
    assert "blocked" in status.body["error"].lower()
    assert send_calls(connected) == [403]  # one attempt: a block is permanent


async def test_other_permanent_errors_are_reported_as_905_with_a_reason(
    connected: Connected,
) -> None:
    await connected.customer_writes("Hi")
    connected.telegram.fail_next(
        "sendMessage", error_code=400, description="Bad Request: can't parse entities"
    )
    await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), "text"
    )
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
    body = connected.amojo.delivery_statuses[0].body
    assert body["delivery_status"] == -1 and body["error_code"] == 905
    assert "can't parse entities" in body["error"].lower()


async def test_telegram_server_error_is_retried_and_delivered_once(connected: Connected) -> None:
    await connected.customer_writes("Hi")
    connected.telegram.fail_server_next("sendMessage", 2, status=502)
    await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), "after the outage"
    )
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
    assert connected.amojo.delivery_statuses[0].body["delivery_status"] == 1
    assert [m.params["text"] for m in connected.telegram.sent_to(CUSTOMER)] == ["after the outage"]
    assert send_calls(connected) == [502, 502, 200]


async def test_reply_to_unknown_conversation_is_reported_not_lost(connected: Connected) -> None:
    await connected.customer_writes("Hi")
    _, body = connected.amojo.build_message_hook(
        connected.scope_id, connected.conversation_id(), "to nobody"
    )
    [chat_id] = connected.amojo.chats
    forged = body.replace(connected.conversation_id().encode(), b"telegram-4242001-999")
    forged = forged.replace(chat_id.encode(), b"00000000-0000-0000-0000-000000000000")
    assert await connected.amojo.post_hook(connected.scope_id, forged) == 200
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
    assert connected.bridge.container.worker.outcomes["retried"] == 0  # permanent: no retries
    status = connected.amojo.delivery_statuses[0]
    assert status.body["delivery_status"] == -1
    assert status.body["error_code"] == 904
