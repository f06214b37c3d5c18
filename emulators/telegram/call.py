"""One Bot API call as the method handlers see it, and the parameter checks they share.

Handlers live in ``methods.py`` and ``media_methods.py``; each takes a ``Call`` and returns the
``result`` Telegram would send, or raises ``ApiError`` with Telegram's status and text.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from emulators.telegram.records import BotState, ChatState, SentMessage, quoted
from emulators.telegram.rules import ApiError, Upload, bad_request
from emulators.telegram.state import EmulatorState


@dataclass
class Call:
    state: EmulatorState
    bot: BotState
    method: str
    params: dict[str, Any]
    uploads: dict[str, Upload] = field(default_factory=dict)
    # Completes when the HTTP client goes away; lets a long poll end early without effects.
    disconnected: asyncio.Future[Any] | None = None
    token: str = field(default="", repr=False)


Handler = Callable[[Call], Awaitable[Any]]


def int_param(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f'field "{name}" must be of type Integer') from None


def bool_param(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def target_chat(call: Call) -> ChatState:
    raw = call.params.get("chat_id")
    if raw is None or raw == "":
        raise bad_request("chat_id is empty")
    try:
        chat_id = int(raw)
    except (TypeError, ValueError):
        raise bad_request("chat not found") from None  # @channel usernames: no channels here
    chat = call.state.chat(call.bot, chat_id)
    if chat is None:
        raise bad_request("chat not found")
    if chat_id in call.state.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    return chat


def required_message_id(call: Call) -> int:
    message_id = int_param(call.params, "message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    return message_id


def replied_message(call: Call, chat: ChatState) -> dict[str, Any] | None:
    """The message a send replies to, quoted as the new message holds it; None for no reply."""
    params = call.params
    reply = params.get("reply_parameters")
    if isinstance(reply, dict):
        message_id = int_param(reply, "message_id")
        allow_missing = bool_param(reply, "allow_sending_without_reply")
    else:
        message_id = int_param(params, "reply_to_message_id")
        allow_missing = bool_param(params, "allow_sending_without_reply")
    if message_id is None:
        return None
    target = chat.messages.get(message_id)
    if target is None:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return quoted(target)


def record_sent(call: Call, chat: ChatState, message: dict[str, Any]) -> None:
    call.state.sent.append(
        SentMessage(
            token=call.token,
            bot_id=call.bot.bot_id,
            method=call.method,
            chat_id=chat.chat_id,
            message_id=message["message_id"],
            params=call.params,
            message=message,
            at=time.monotonic(),
        )
    )
    call.state.notify()


def send_from_bot(call: Call, chat: ChatState, **content: Any) -> dict[str, Any]:
    """A new message from the bot in ``chat``, recorded as sent; empty ``content`` is left out."""
    message = call.state.new_message(chat, call.bot.user, **content)
    record_sent(call, chat, message)
    return message
