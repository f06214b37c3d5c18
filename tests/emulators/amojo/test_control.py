"""The Chats API emulator's extra ``/__emulator__/`` routes, for a driver in another process."""

from __future__ import annotations

import asyncio
import json

from tests.emulators.amojo.test_app import SCOPE, Env, connected, env, new_message

__all__ = ["connected", "env"]  # fixtures shared with test_amojo_emulator


async def test_arrivals_wait_for_the_next_message(connected: Env) -> None:
    control = connected.raw
    empty = (await control.get("/__emulator__/arrivals", params={"since": 0})).json()
    assert empty == {"next": 0, "messages": []}
    waiting = asyncio.create_task(
        control.get("/__emulator__/arrivals", params={"since": 0, "wait": 5})
    )
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert (await connected.send(new_message())).status_code == 200
    arrived = (await waiting).json()
    assert arrived["next"] == 1
    [[text, conversation_id, msgid, at]] = arrived["messages"]
    assert (text, conversation_id, msgid) == ("hello", "conv-1", "m1")
    assert at == connected.emulator.messages[0].received_at


async def test_operator_hooks_are_built_not_sent_and_can_be_reported(connected: Env) -> None:
    control = connected.raw
    await connected.send(new_message())
    answer = await control.post(
        "/__emulator__/operator_hooks",
        json={"scope_id": SCOPE, "messages": [{"conversation_id": "conv-1", "text": "hi"}]},
    )
    [[message_id, body]] = answer.json()["hooks"]
    assert (
        json.loads(body)["message"]["message"] == connected.emulator.operator_messages[0].message
    )
    assert connected.emulator.hook_responses == []  # nothing was posted
    status = {"msgid": message_id, "delivery_status": 1}
    assert (await connected.status(message_id, status)).status_code == 200
    reported = await control.get("/__emulator__/delivery_statuses", params={"since": 0})
    assert [row[:2] for row in reported.json()["statuses"]] == [[message_id, 1]]
    unknown = await control.post(
        "/__emulator__/operator_hooks",
        json={"scope_id": SCOPE, "messages": [{"conversation_id": "nobody", "text": "hi"}]},
    )
    assert unknown.status_code == 400 and "nobody" in unknown.json()["error"]


async def test_rejections_are_listed_with_their_reason(connected: Env) -> None:
    await connected.send(new_message(msgid="m1"))
    await connected.send(new_message(msgid="m1"))
    rows = (await connected.raw.get("/__emulator__/rejected")).json()["rejected"]
    assert [row[2:4] for row in rows] == [[400, "DUPLICATE_MSGID"]]
