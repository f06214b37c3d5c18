"""Opaque ids of the Telegram adapter: made and parsed only here."""

from __future__ import annotations

from bridge.ids import ExternalChatId, ExternalMessageId, ExternalUserId, MediaRef


def bot_id_from_token(token: str) -> str:
    """The digits before the colon: public, safe to log and to put in URLs."""
    head, sep, _ = token.partition(":")
    if not sep or not head.isdigit():
        raise ValueError("a Telegram bot token looks like 123456:ABC…")
    return head


def make_chat_id(chat_id: int) -> ExternalChatId:
    return ExternalChatId(str(chat_id))


def parse_chat_id(chat: str) -> int:
    return int(chat)


def make_user_id(user_id: int) -> ExternalUserId:
    return ExternalUserId(str(user_id))


def make_message_id(chat_id: int, message_id: int) -> ExternalMessageId:
    return ExternalMessageId(f"{chat_id}:{message_id}")


def parse_message_id(message: str) -> tuple[int, int]:
    chat, sep, number = message.partition(":")
    if not sep:
        raise ValueError(f"not a Telegram message id: {message!r}")
    return int(chat), int(number)


def make_media_ref(file_id: str) -> MediaRef:
    return MediaRef(file_id)


def parse_media_ref(ref: str) -> str:
    return ref
