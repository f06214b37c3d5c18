"""aiogram, imported through the adapter, builds a type's validator on first use only."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import json, sys
import channels.telegram
from pydantic import BaseModel

def aiogram_models():
    seen, todo = set(), [BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return [m for m in seen if m.__module__.startswith("aiogram.")]

complete_after_import = sum(m.__pydantic_complete__ for m in aiogram_models())
from aiogram.methods import SendMessage
from aiogram.methods.base import Response
from aiogram.types import Message, Update

big_ones_deferred = not (Update.__pydantic_complete__ or Message.__pydantic_complete__)

update = Update.model_validate({
    "update_id": 7,
    "message": {
        "message_id": 2, "date": 1700000000, "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "Anna"},
        "caption": "look",
        "photo": [{"file_id": "F", "file_unique_id": "U", "width": 90, "height": 60}],
        "reply_to_message": {"message_id": 1, "date": 1700000000,
                             "chat": {"id": 5, "type": "private"}, "text": "hi"},
    },
})
sent = Response[Message].model_validate(
    {"ok": True, "result": {"message_id": 3, "date": 1, "chat": {"id": 5, "type": "private"}}}
)
method = SendMessage(chat_id=5, text="answer")
print(json.dumps({
    "total": len(aiogram_models()),
    "complete_after_import": complete_after_import,
    "big_ones_deferred": big_ones_deferred,
    "photo": update.message.photo[-1].file_id,
    "reply_to": update.message.reply_to_message.text,
    "sender": update.message.from_user.first_name,
    "sent_id": sent.result.message_id,
    "method": method.model_dump()["text"],
}))
"""


def test_types_are_built_on_first_use_and_validate_as_before() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    probe = json.loads(out.stdout)
    assert probe["total"] > 300  # aiogram's ~900 types and methods
    # aiogram would build them all at import; here only those without forward references
    assert probe["complete_after_import"] < probe["total"] // 2
    assert probe["big_ones_deferred"]
    assert probe["photo"] == "F"
    assert probe["reply_to"] == "hi"
    assert probe["sender"] == "Anna"
    assert probe["sent_id"] == 3
    assert probe["method"] == "answer"
