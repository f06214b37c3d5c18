"""One Telegram update → the sink: relayed, skipped, or kept as rejected (never lost).

Updates are validated by aiogram exactly as the receivers do; the sink is the recording
double of the core's InboundSink.
"""

from __future__ import annotations

import json
from typing import Any

from aiogram import Bot
from aiogram.types import Update

from bridge.ids import ConnectionId
from bridge.messages import InboundMessage
from channels.telegram.handlers import handle_raw_update, handle_update
from tests.channels.telegram.test_receiver import RecordingSink

CID = ConnectionId("handlersconn")
BOT = Bot("777004:handlers-test-token-abcdefgh")
USER = {"id": 42, "is_bot": False, "first_name": "Anna"}
PRIVATE = {"id": 42, "type": "private", "first_name": "Anna"}
GROUP = {"id": -100, "type": "group", "title": "g"}

# A poll as an older Bot API sends it: aiogram 3.31 requires fields it lacks.
OLD_POLL = {
    "id": "p1",
    "question": "Which one?",
    "options": [{"text": "a", "voter_count": 0}, {"text": "b", "voter_count": 0}],
    "total_voter_count": 0,
    "is_closed": False,
    "is_anonymous": True,
    "type": "regular",
    "allows_multiple_answers": False,
}


def update(**fields: Any) -> Update:
    return Update.model_validate({"update_id": 1, **fields}, context={"bot": BOT})


def message(chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"message_id": 7, "date": 1_700_000_000, "chat": chat, "from": USER, **fields}


async def test_a_private_text_message_is_accepted() -> None:
    sink = RecordingSink()
    await handle_update(sink, CID, BOT, update(message=message(PRIVATE, text="hi")))
    [event] = sink.accepted
    assert isinstance(event, InboundMessage) and event.text == "hi"
    assert sink.rejected == []


async def test_a_group_message_is_neither_accepted_nor_rejected() -> None:
    sink = RecordingSink()
    await handle_update(sink, CID, BOT, update(message=message(GROUP, text="hi")))
    assert sink.accepted == [] and sink.rejected == []


async def test_a_message_without_a_sender_is_rejected_with_its_raw_json() -> None:
    sink = RecordingSink()
    raw = message(PRIVATE, text="anon")
    del raw["from"]
    await handle_update(sink, CID, BOT, update(message=raw))
    assert sink.accepted == []
    [(body, reason)] = sink.rejected
    assert json.loads(body)["message"]["text"] == "anon"
    assert "unreadable update 1" in reason


async def test_a_membership_change_is_only_logged() -> None:
    sink = RecordingSink()
    member = {
        "chat": PRIVATE,
        "from": USER,
        "date": 1,
        "old_chat_member": {"status": "member", "user": USER},
        "new_chat_member": {"status": "kicked", "user": USER, "until_date": 0},
    }
    await handle_update(sink, CID, BOT, update(my_chat_member=member))
    assert sink.accepted == [] and sink.rejected == []


async def test_an_update_aiogram_cannot_validate_still_tells_the_operator_its_kind() -> None:
    raw = {"update_id": 9, "message": message(PRIVATE, poll=OLD_POLL)}
    sink = RecordingSink()
    await handle_raw_update(sink, CID, BOT, raw)
    [event] = sink.accepted
    assert isinstance(event, InboundMessage)
    assert event.text is not None and "poll the bridge could not read" in event.text
    assert event.sender.external_id == "42" and event.sender.name == "Anna"
    assert event.chat == "42"
    [(body, reason)] = sink.rejected
    assert json.loads(body) == raw  # kept whole for inspection
    assert "unreadable update 9" in reason


async def test_an_unreadable_group_update_is_only_kept() -> None:
    raw = {"update_id": 10, "message": message(GROUP, poll=OLD_POLL)}
    sink = RecordingSink()
    await handle_raw_update(sink, CID, BOT, raw)
    assert sink.accepted == []
    assert len(sink.rejected) == 1


async def test_an_unreadable_update_without_a_sender_is_only_kept() -> None:
    raw = {"update_id": 11, "message": {"message_id": 1, "date": 1, "chat": PRIVATE}}
    sink = RecordingSink()
    await handle_raw_update(sink, CID, BOT, raw)
    assert sink.accepted == []
    assert len(sink.rejected) == 1
