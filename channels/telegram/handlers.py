"""Routes one Telegram update to the sink. Sink failures propagate (the update stays
unacknowledged); updates that cannot be read are rejected through the sink and acknowledged."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiogram import Bot
from aiogram.types import Message, Update

from bridge.channel import InboundSink
from bridge.ids import ConnectionId
from bridge.messages import InboundEvent
from channels.telegram.update_to_event import (
    UnsupportedUpdateError,
    button_press_to_inbound,
    to_edit,
    to_inbound,
    to_reaction,
)

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "message_reaction",
    "callback_query",
    "my_chat_member",
]


def _convert(connection_id: ConnectionId, update: Update) -> InboundEvent | None:
    if update.message is not None:
        if update.message.chat.type != "private":
            return None
        return to_inbound(connection_id, update.message)
    if update.edited_message is not None:
        if update.edited_message.chat.type != "private":
            return None
        return to_edit(connection_id, update.edited_message)
    if update.message_reaction is not None:
        if update.message_reaction.chat.type != "private":
            return None
        return to_reaction(connection_id, update.update_id, update.message_reaction)
    if update.callback_query is not None:
        return button_press_to_inbound(connection_id, update.callback_query)
    return None


async def handle_update(
    sink: InboundSink, connection_id: ConnectionId, bot: Bot, update: Update
) -> None:
    """Return normally only when the update is safe to acknowledge."""
    try:
        event = _convert(connection_id, update)
    except (UnsupportedUpdateError, ValueError, TypeError, AttributeError) as error:
        raw = update.model_dump_json(exclude_none=True).encode()
        await sink.reject(connection_id, raw, f"unreadable update {update.update_id}: {error}")
        return
    if event is None:
        if update.my_chat_member is not None:
            status = update.my_chat_member.new_chat_member.status
            log.info(
                "bot membership changed to %s", status, extra={"connection_id": connection_id}
            )
        else:
            # Group chats, custom-emoji reactions and update kinds the bridge does not relay.
            log.debug("update %s has nothing to relay", update.update_id)
        return
    await sink.accept(event)
    if update.callback_query is not None:
        try:
            await bot.answer_callback_query(update.callback_query.id)
        except Exception as error:  # noqa: BLE001 - the press is stored; the spinner is cosmetic
            log.info("answerCallbackQuery failed: %s", type(error).__name__)


# Keys of a message that are its envelope, not its content: what remains names its kind.
_ENVELOPE = {
    "message_id",
    "message_thread_id",
    "date",
    "chat",
    "from",
    "sender_chat",
    "edit_date",
    "reply_to_message",
    "forward_origin",
    "media_group_id",
    "entities",
    "caption_entities",
    "caption",
    "reply_markup",
    "via_bot",
    "author_signature",
    "has_protected_content",
    "is_topic_message",
    "link_preview_options",
}


def _kind(message: dict[str, Any]) -> str:
    kinds = [key for key in message if key not in _ENVELOPE]
    return kinds[0].replace("_", " ") if kinds else "message"


def _placeholder(raw: dict[str, Any], bot: Bot) -> Message | None:
    """The envelope of an unreadable private message, carrying a text naming what it was."""
    message = raw.get("message")
    if not isinstance(message, dict):
        return None
    chat, sender = message.get("chat"), message.get("from")
    if not isinstance(chat, dict) or chat.get("type") != "private" or not isinstance(sender, dict):
        return None
    text = f"[unreadable] The customer sent a {_kind(message)} the bridge could not read"
    try:
        return Message.model_validate(
            {
                "message_id": message.get("message_id"),
                "date": message.get("date"),
                "chat": chat,
                "from": sender,
                "text": text,
            },
            context={"bot": bot},
        )
    except ValueError:
        return None


async def handle_raw_update(
    sink: InboundSink, connection_id: ConnectionId, bot: Bot, raw: dict[str, Any]
) -> None:
    """An update aiogram could not validate: the operator still learns that the customer
    wrote (and what kind of thing), and the raw update is kept for inspection."""
    body = json.dumps(raw, ensure_ascii=False).encode()
    update_id = raw.get("update_id")
    placeholder = _placeholder(raw, bot)
    if placeholder is not None:
        await sink.accept(to_inbound(connection_id, placeholder))
    await sink.reject(
        connection_id,
        body,
        f"unreadable update {update_id}: Telegram sent "
        "a shape the bridge's Telegram library does not accept",
    )
