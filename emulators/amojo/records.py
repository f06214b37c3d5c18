"""What the Chats API emulator remembers: connections, chats, messages, statuses, rejections."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class ConnectionRecord:
    scope_id: str
    account_id: str
    title: str
    hook_api_version: str
    connected: bool
    is_time_window_disabled: bool


@dataclass
class ChatRecord:
    chat_id: str
    scope_id: str
    conversation_id: str
    user: dict[str, Any]  # amojo participant: id (amojo), client_id (ours), name, profile...
    contact_name: str
    source_external_id: str | None
    created_by: Literal["create_chat", "new_message"]
    created_at: float = field(default_factory=time.monotonic)


@dataclass
class MessageRecord:
    """An accepted message; ``direction`` "out" marks one the emulated operator sent."""

    scope_id: str
    chat_id: str
    conversation_id: str
    msgid: str | None  # ours; None for operator messages until an edit attaches one
    amojo_id: str
    payload: dict[str, Any]  # the event payload (or the hook, for operator messages)
    silent: bool
    sender: dict[str, Any]
    receiver: dict[str, Any] | None
    message: dict[str, Any]  # current content; edits merge into it
    timestamp: int
    msec_timestamp: int
    direction: Literal["in", "out"] = "in"
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class EditRecord:
    scope_id: str
    chat_id: str
    conversation_id: str
    msgid: str | None
    amojo_id: str
    payload: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class DeliveryStatusRecord:
    scope_id: str
    amojo_msgid: str
    body: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class RejectedRequest:
    method: str
    path: str
    status: int
    error_type: str
    description: str
    detail: str = ""  # why, when the answer itself is deliberately vague (403)
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class HookDelivery:
    scope_id: str
    kind: Literal["message", "typing", "reaction", "raw"]
    message_id: str | None
    status: int  # what the bridge answered; 0 = no answer (timeout, refused)
    elapsed: float
    error: str | None = None
