"""What the Telegram emulator remembers, one dataclass per kind of record.

Bots, chats and stored files; and what tests inspect afterwards: the messages bots sent, every
Bot API call, every webhook delivery attempt. ``EmulatorState`` (``state.py``) holds them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from emulators.telegram.rules import DEFAULT_UPDATE_TYPES


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    file_size: int
    file_path: str
    content: bytes = field(repr=False)
    mime_type: str
    bot_id: int
    kind: str | None = None  # photo, document, ...; None lets a file_id be sent as anything
    file_name: str | None = None


@dataclass
class SentMessage:
    token: str = field(repr=False)  # kept out of repr so assertion output never shows it
    bot_id: int
    method: str
    chat_id: int
    message_id: int
    params: dict[str, Any]
    message: dict[str, Any]
    at: float


@dataclass
class ApiCall:
    bot_id: int | None  # never the whole token: call logs end up in test output
    method: str
    params: dict[str, Any]
    status: int
    at: float
    description: str | None = None

    @property
    def token(self) -> str:
        """The bot id as text: the only part of the token the call log keeps."""
        return str(self.bot_id)


@dataclass
class WebhookDelivery:
    bot_id: int
    update_id: int
    status: int | None  # None: no HTTP answer at all (connection refused, timeout)
    error: str | None
    at: float


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


@dataclass
class ChatState:
    bot_id: int
    chat: dict[str, Any]
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    user_reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    bot_reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])


@dataclass
class BotState:
    token: str = field(repr=False)
    bot_id: int
    username: str
    first_name: str
    next_update_id: int
    updates: list[dict[str, Any]] = field(default_factory=list)
    allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
    webhook: Webhook | None = None
    poll_generation: int = 0
    closed_until: float = 0.0

    @property
    def user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }


def unix_now() -> int:
    return int(time.time())


def quoted(message: dict[str, Any]) -> dict[str, Any]:
    # Telegram nests the replied-to message one level deep only.
    return {k: v for k, v in message.items() if k != "reply_to_message"}
