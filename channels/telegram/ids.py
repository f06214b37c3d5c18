"""Opaque ids of the Telegram adapter: made and parsed only here."""

from __future__ import annotations

import hashlib

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
    """(chat id, message id); ValueError for anything else, a button press's id included."""
    chat, sep, number = message.partition(":")
    if not sep or not number.lstrip("-").isdigit():
        raise ValueError(f"not a Telegram message id: {message!r}")
    return int(chat), int(number)


def make_press_id(chat_id: int, query_id: str) -> ExternalMessageId:
    """A pressed button is no Telegram message: its id names the callback query instead, so
    every press is a message of its own and none can be mistaken for a real message id."""
    return ExternalMessageId(f"{chat_id}:cb{query_id}")


def make_media_ref(file_id: str) -> MediaRef:
    return MediaRef(file_id)


CALLBACK_LIMIT = 64  # bytes of callback_data Telegram accepts


def make_callback_data(button_text: str) -> str:
    """A text button's callback data: its text whole when that fits, else a digest (a press
    then reads the text back from the keyboard of the pressed message, which Telegram sends
    along with the press)."""
    whole = f"t:{button_text}"
    if len(whole.encode()) <= CALLBACK_LIMIT:
        return whole
    return "h:" + hashlib.sha256(button_text.encode()).hexdigest()[:40]


def parse_callback_data(data: str) -> str:
    """The button text carried whole in callback data; "" when only a digest is there."""
    return data.removeprefix("t:") if data.startswith("t:") else ""
