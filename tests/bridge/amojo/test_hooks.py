"""Chats API v2 hooks → typed hooks, in both shapes the docs give where they disagree."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bridge.amojo.hooks import Hook, MessageHook, ReactionHook, TypingHook, to_hook
from bridge.amojo.models import AmojoHook
from bridge.messages import AttachmentKind, Button

CONVERSATION = {"id": "chat-uuid", "client_id": "telegram-1-2"}


def parse_hook(data: Any) -> Hook:
    return to_hook(AmojoHook.model_validate(data))


def message_hook(**message: Any) -> dict[str, Any]:
    inner = {"id": "msg-uuid", "type": "text", "text": "hi"} | message
    return {
        "account_id": "acc",
        "time": 1,
        "message": {
            "receiver": {"id": "r", "client_id": "u", "phone": "", "email": "", "name": "Anna"},
            "sender": {"id": "op", "name": "Operator"},
            "conversation": CONVERSATION,
            "timestamp": 1,
            "msec_timestamp": 1000,
            "message": inner,
        },
    }


def test_media_message_with_buttons_reply_and_group() -> None:
    hook = parse_hook(
        message_hook(
            type="picture",
            text="caption",
            media="https://amojo.example/f/1",
            file_name="a.jpg",
            file_size=10,
            markup={
                "mode": "inline",
                "buttons": [[{"text": "Yes"}, {"text": "Site", "url": "https://s"}]],
            },
            reply_to={"message": {"id": "quoted-uuid", "msgid": "telegram-1-2:5", "type": "text"}},
            media_group_id="g1",
        )
    )
    assert isinstance(hook, MessageHook)
    assert hook.attachment is not None
    assert (hook.attachment.kind, hook.attachment.file_name, hook.attachment.file_size) == (
        AttachmentKind.PICTURE,
        "a.jpg",
        10,
    )
    assert hook.buttons == ((Button("Yes"), Button("Site", "https://s")),)
    assert (hook.reply_to_amojo_msgid, hook.reply_to_bridge_msgid) == (
        "quoted-uuid",
        "telegram-1-2:5",
    )
    assert hook.media_group_id == "g1"
    assert hook.conversation.client_id == "telegram-1-2"


def test_media_type_without_a_url_has_no_attachment_and_empty_sizes_are_tolerated() -> None:
    hook = parse_hook(message_hook(type="file", media="", file_name="", file_size=0))
    assert isinstance(hook, MessageHook) and hook.attachment is None


def test_identity_and_album_are_read_from_the_validated_hook() -> None:
    hook = AmojoHook.model_validate(message_hook(media_group_id="g1"))
    assert (hook.amojo_msgid, hook.order_key, hook.media_group_id) == (
        "msg-uuid",
        "telegram-1-2",
        "g1",
    )
    assert AmojoHook.model_validate(message_hook()).media_group_id is None
    typing = AmojoHook.model_validate({"account_id": "acc", "action": {"typing": {}}})
    assert (typing.kind, typing.media_group_id, typing.order_key) == ("typing", None, None)


@pytest.mark.parametrize(
    "action",
    [
        {"typing": {"user": {"id": "op"}, "conversation": CONVERSATION, "expired_at": 5}},
        {"user": {"id": "op"}, "typing": {"conversation": CONVERSATION, "expired_at": 5}},
    ],
)
def test_typing_in_both_documented_shapes(action: dict[str, Any]) -> None:
    hook = parse_hook({"account_id": "acc", "time": 1, "action": action})
    assert hook == TypingHook(hook.conversation, "op")
    assert hook.conversation.amojo_chat_id == "chat-uuid"


def test_reaction_in_both_documented_shapes() -> None:
    table = {
        "message": {"id": "m-uuid", "client_id": "telegram-1-2:5"},
        "user": {"id": "op"},
        "conversation": CONVERSATION,
        "type": "react",
        "emoji": "👍",
    }
    example = {"msgid": "m-uuid", "user": {"id": "op"}, "conversation": CONVERSATION}
    example |= {"type": "unreact"}
    first = parse_hook({"account_id": "acc", "action": {"reaction": table}})
    second = parse_hook({"account_id": "acc", "action": {"reaction": example}})
    assert isinstance(first, ReactionHook) and isinstance(second, ReactionHook)
    assert (first.target_ids, first.emoji, first.remove) == (
        ("m-uuid", "telegram-1-2:5"),
        "👍",
        False,
    )
    assert (second.target_ids, second.emoji, second.remove) == (("m-uuid",), None, True)


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"account_id": "acc"},
        {"account_id": "acc", "action": {"dance": {}}},
        message_hook(id=None),
        {"account_id": "acc", "action": {"reaction": {"type": "react", "emoji": "👍"}}},
        {"message": message_hook()["message"]},  # no account_id: no scope check possible
    ],
)
def test_unreadable_hooks_are_refused_with_a_reason(data: Any) -> None:
    with pytest.raises(ValidationError):
        AmojoHook.model_validate(data)
