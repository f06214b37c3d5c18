"""Chats API v2 hooks → typed events. Kinds are told apart by their top-level keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import UnsupportedHookError
from bridge.messages import AttachmentKind, Button, OutboundAttachment

MEDIA_TYPES = {kind.value for kind in AttachmentKind}


@dataclass(frozen=True, slots=True)
class ConversationRef:
    amojo_chat_id: str | None  # amoCRM's chat id
    client_id: str | None  # our conversation_id; missing in "write first" chats


@dataclass(frozen=True, slots=True)
class MessageHook:
    conversation: ConversationRef
    amojo_msgid: str
    type: str
    text: str = ""
    attachment: OutboundAttachment | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    reply_to_amojo_msgid: str | None = None
    reply_to_bridge_msgid: str | None = None
    media_group_id: str | None = None
    receiver_phone: str | None = None
    sender_name: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class TypingHook:
    conversation: ConversationRef
    user_id: str | None


@dataclass(frozen=True, slots=True)
class ReactionHook:
    conversation: ConversationRef
    target_ids: tuple[str, ...]  # amoCRM id and/or our msgid of the message reacted to
    emoji: str | None
    remove: bool


Hook = MessageHook | TypingHook | ReactionHook


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _conversation(data: dict[str, Any]) -> ConversationRef:
    return ConversationRef(_str(data.get("id")), _str(data.get("client_id")))


def _buttons(markup: Any) -> tuple[tuple[Button, ...], ...]:
    rows = _dict(markup).get("buttons")
    if not isinstance(rows, list):
        return ()
    parsed: list[tuple[Button, ...]] = []
    for row in rows:
        cells = row if isinstance(row, list) else [row]
        buttons = tuple(
            Button(text=str(cell["text"]), url=_str(cell.get("url")))
            for cell in cells
            if isinstance(cell, dict) and _str(cell.get("text"))
        )
        if buttons:
            parsed.append(buttons)
    return tuple(parsed)


def _parse_message(data: dict[str, Any]) -> MessageHook:
    outer = _dict(data.get("message"))
    inner = _dict(outer.get("message"))
    amojo_msgid = _str(inner.get("id"))
    kind = _str(inner.get("type"))
    if amojo_msgid is None or kind is None:
        raise UnsupportedHookError("message hook without message.message.id or type")
    attachment = None
    media = _str(inner.get("media"))
    if kind in MEDIA_TYPES and media:
        size = inner.get("file_size")
        attachment = OutboundAttachment(
            kind=AttachmentKind(kind),
            url=media,
            file_name=_str(inner.get("file_name")) or "",
            file_size=size if isinstance(size, int) else 0,
        )
    reply = _dict(_dict(inner.get("reply_to")).get("message"))
    return MessageHook(
        conversation=_conversation(_dict(outer.get("conversation"))),
        amojo_msgid=amojo_msgid,
        type=kind,
        text=_str(inner.get("text")) or "",
        attachment=attachment,
        buttons=_buttons(inner.get("markup")),
        reply_to_amojo_msgid=_str(reply.get("id")),
        reply_to_bridge_msgid=_str(reply.get("msgid")) or _str(reply.get("client_id")),
        media_group_id=_str(inner.get("media_group_id")),
        receiver_phone=_str(_dict(outer.get("receiver")).get("phone")),
        sender_name=_str(_dict(outer.get("sender")).get("name")),
        raw=data,
    )


def _parse_typing(data: dict[str, Any]) -> TypingHook:
    action = _dict(data.get("action"))
    typing = _dict(action.get("typing"))
    # The docs' table and example disagree on where the user sits; accept both.
    user = _dict(typing.get("user")) or _dict(action.get("user"))
    return TypingHook(_conversation(_dict(typing.get("conversation"))), _str(user.get("id")))


def _parse_reaction(data: dict[str, Any]) -> ReactionHook:
    reaction = _dict(_dict(data.get("action")).get("reaction"))
    message = _dict(reaction.get("message"))
    ids = [_str(message.get("id")), _str(message.get("client_id")), _str(reaction.get("msgid"))]
    targets = tuple(dict.fromkeys(i for i in ids if i))
    if not targets:
        raise UnsupportedHookError("reaction hook names no message")
    kind = _str(reaction.get("type")) or "react"
    return ReactionHook(
        conversation=_conversation(_dict(reaction.get("conversation"))),
        target_ids=targets,
        emoji=_str(reaction.get("emoji")),
        remove=kind == "unreact",
    )


HOOK_PARSERS: dict[str, Callable[[dict[str, Any]], Hook]] = {
    "message": _parse_message,
    "typing": _parse_typing,
    "reaction": _parse_reaction,
}


def hook_kind(data: dict[str, Any]) -> str | None:
    if "message" in data:
        return "message"
    action = _dict(data.get("action"))
    if "typing" in action:
        return "typing"
    if "reaction" in action:
        return "reaction"
    return None


def parse_hook(data: Any) -> Hook:
    if not isinstance(data, dict):
        raise UnsupportedHookError("hook body is not a JSON object")
    kind = hook_kind(data)
    if kind is None:
        raise UnsupportedHookError(
            f"unknown hook kind (keys: {', '.join(sorted(data)) or 'none'})"
        )
    return HOOK_PARSERS[kind](data)


def hook_media_group(data: Any) -> str | None:
    """The media_group_id of a message hook (a message with several files), read at receipt."""
    if not isinstance(data, dict) or hook_kind(data) != "message":
        return None
    return _str(_dict(_dict(data.get("message")).get("message")).get("media_group_id"))


def hook_identity(data: Any) -> tuple[str | None, str | None]:
    """(dedup id, ordering key) read cheaply at receipt, before the hook is stored."""
    if not isinstance(data, dict):
        return None, None
    kind = hook_kind(data)
    if kind == "message":
        outer = _dict(data.get("message"))
        conversation = _conversation(_dict(outer.get("conversation")))
        msgid = _str(_dict(outer.get("message")).get("id"))
        return msgid, conversation.client_id or conversation.amojo_chat_id
    if kind == "typing":
        conversation = _conversation(
            _dict(_dict(_dict(data.get("action")).get("typing")).get("conversation"))
        )
        return None, conversation.client_id or conversation.amojo_chat_id
    if kind == "reaction":
        conversation = _conversation(
            _dict(_dict(_dict(data.get("action")).get("reaction")).get("conversation"))
        )
        return None, conversation.client_id or conversation.amojo_chat_id
    return None, None
