"""The operator side of the Chats API emulator: amoCRM talking to the bridge through hooks.

Messages, typing and reactions are POSTed as v2 hooks (spec section 5) to ``hook_url_template``
with ``:scope_id`` substituted, signed with X-Signature = HMAC-SHA1 of the raw body. Like
amoCRM, each hook is sent once and the bridge gets ``hook_timeout`` seconds to answer.
"""

from __future__ import annotations

import contextlib
import enum
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx

from bridge.amojo import signing
from emulators.amojo.records import ChatRecord, ConnectionRecord, HookDelivery, MessageRecord
from emulators.amojo.state import AmojoState

OPERATOR_ID = "6c1f2e3d-4b5a-4978-8e6d-5c4b3a291807"
OPERATOR_NAME = "Operator"
HOOK_TIMEOUT = 5.0  # amoCRM waits at most 5 s for a hook answer and never retries
TYPING_SECONDS = 5


class _Default(enum.Enum):
    COMPUTE = enum.auto()


@dataclass
class OperatorMessage:
    id: str  # the amoCRM message id, the target of delivery_status
    status: int  # what the bridge answered to the hook (0 = no answer)
    body: bytes
    scope_id: str
    chat_id: str
    conversation_id: str


def dump_json(value: Any) -> bytes:
    """Compact JSON bytes, as amoCRM sends and as the bridge is expected to send."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _describe_hook(
    body: bytes,
) -> tuple[Literal["message", "typing", "reaction", "raw"], str | None]:
    with contextlib.suppress(ValueError, UnicodeDecodeError, LookupError, TypeError):
        data = json.loads(body)
        if "message" in data:
            return "message", data["message"]["message"]["id"]
        if "typing" in data["action"]:
            return "typing", None
        if "reaction" in data["action"]:
            return "reaction", data["action"]["reaction"]["message"]["id"]
    return "raw", None


class AmojoOperator(AmojoState):
    def __init__(
        self,
        channel_id: str,
        *,
        channel_secret: str,
        hook_url_template: str | None,
        bot_id: str,
        allowed_accounts: set[str] | None,
        duplicate_msgid: Literal["error", "idempotent"],
        now: Callable[[], datetime],
        hook_timeout: float,
    ) -> None:
        super().__init__(
            channel_id,
            bot_id=bot_id,
            allowed_accounts=allowed_accounts,
            duplicate_msgid=duplicate_msgid,
        )
        self.channel_secret = channel_secret
        self.hook_url_template = hook_url_template
        self.operator_id = OPERATOR_ID
        self._now = now
        self._hook_timeout = hook_timeout
        self._client: httpx.AsyncClient | None = None

    def _hook_target(
        self, scope_id: str, conversation_id: str
    ) -> tuple[ConnectionRecord, ChatRecord]:
        connection = self.connections.get(scope_id)
        if connection is None or not connection.connected:
            raise LookupError(f"scope {scope_id!r} is not connected: no hooks can be sent")
        chat = self.chat_for(scope_id, conversation_id)
        if chat is None:
            raise LookupError(
                f"no chat for conversation {conversation_id!r} in scope {scope_id!r}: "
                "the customer has to write first"
            )
        return connection, chat

    def _embedded(self, chat: ChatRecord, amojo_id: str) -> dict[str, Any]:
        quoted = self._by_amojo_id.get(amojo_id)
        if quoted is None or quoted.chat_id != chat.chat_id:
            raise ValueError(f"reply_to {amojo_id!r} is not a message of chat {chat.chat_id}")
        content = quoted.message
        embedded: dict[str, Any] = {
            "id": quoted.amojo_id,
            "type": content.get("type", "text"),
            "text": content.get("text", ""),
            "media": content.get("media", ""),
            "thumbnail": content.get("thumbnail", ""),
            "file_name": content.get("file_name", ""),
            "file_size": content.get("file_size", 0),
            "timestamp": quoted.timestamp,
            "msec_timestamp": quoted.msec_timestamp,
            "sender": quoted.sender,
        }
        if quoted.receiver is not None:
            embedded["receiver"] = quoted.receiver
        if quoted.msgid is not None:
            embedded["msgid"] = quoted.msgid
        return embedded

    def build_message_hook(
        self,
        scope_id: str,
        conversation_id: str,
        text: str = "",
        *,
        type: str = "text",  # shadows the builtin to match the hook's field name
        media: str | None = None,
        file_name: str = "",
        file_size: int = 0,
        markup: dict[str, Any] | None = None,
        reply_to: str | None = None,
        media_group_id: str | None = None,
        message_id: str | None = None,
    ) -> tuple[str, bytes]:
        """Create an operator message (a valid delivery_status target) and its hook body."""
        connection, chat = self._hook_target(scope_id, conversation_id)
        message_id = message_id or str(uuid.uuid4())
        if message_id in self._by_amojo_id:
            raise ValueError(f"message id {message_id!r} is already taken")
        moment = self._now()
        content: dict[str, Any] = {
            "id": message_id,
            "type": type,
            "text": text,
            "tag": "",
            "media": media or "",
            "thumbnail": media if media and type in ("picture", "video") else "",
            "file_name": file_name,
            "file_size": file_size,
            "markup": markup,
        }
        if reply_to is not None:
            content["reply_to"] = {"message": self._embedded(chat, reply_to)}
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        user = chat.user
        receiver = {
            "id": user["id"],
            "client_id": user.get("client_id", ""),
            "phone": user.get("phone", ""),  # amoCRM sends "" when no profile was given
            "email": user.get("email", ""),
            "name": user["name"],
        }
        sender = {"id": self.operator_id, "name": OPERATOR_NAME}
        seconds, millis = int(moment.timestamp()), int(moment.timestamp() * 1000)
        hook_message: dict[str, Any] = {
            "receiver": receiver,
            "sender": sender,
            "conversation": {"id": chat.chat_id, "client_id": chat.conversation_id},
            "timestamp": seconds,
            "msec_timestamp": millis,
            "message": content,
        }
        if chat.source_external_id is not None:
            hook_message["source"] = {"external_id": chat.source_external_id}
        hook = {"account_id": connection.account_id, "time": seconds, "message": hook_message}
        self._store(
            MessageRecord(
                scope_id=scope_id,
                chat_id=chat.chat_id,
                conversation_id=conversation_id,
                msgid=None,
                amojo_id=message_id,
                payload=hook,
                silent=False,
                sender=sender,
                receiver=receiver,
                message=content,
                timestamp=seconds,
                msec_timestamp=millis,
                direction="out",
            )
        )
        self._touch()
        return message_id, dump_json(hook)

    async def send_operator_message(
        self,
        scope_id: str,
        conversation_id: str,
        text: str = "",
        *,
        type: str = "text",
        media: str | None = None,
        file_name: str = "",
        file_size: int = 0,
        markup: dict[str, Any] | None = None,
        reply_to: str | None = None,
        media_group_id: str | None = None,
        message_id: str | None = None,
    ) -> OperatorMessage:
        """Fire a signed message hook as an operator reply; ``.status`` is the bridge's answer."""
        message_id, body = self.build_message_hook(
            scope_id,
            conversation_id,
            text,
            type=type,
            media=media,
            file_name=file_name,
            file_size=file_size,
            markup=markup,
            reply_to=reply_to,
            media_group_id=media_group_id,
            message_id=message_id,
        )
        status = await self.post_hook(scope_id, body)
        chat_id = self._by_amojo_id[message_id].chat_id
        return OperatorMessage(message_id, status, body, scope_id, chat_id, conversation_id)

    async def send_typing_hook(self, scope_id: str, conversation_id: str) -> int:
        connection, chat = self._hook_target(scope_id, conversation_id)
        moment = int(self._now().timestamp())
        typing = {
            "user": {"id": self.operator_id},
            "conversation": {"id": chat.chat_id, "client_id": chat.conversation_id},
            "expired_at": moment + TYPING_SECONDS,
        }
        hook = {"account_id": connection.account_id, "time": moment, "action": {"typing": typing}}
        return await self.post_hook(scope_id, dump_json(hook))

    async def send_reaction_hook(
        self,
        scope_id: str,
        conversation_id: str,
        amojo_msgid: str,
        emoji: str | None,
        type: str = "react",
    ) -> int:
        connection, chat = self._hook_target(scope_id, conversation_id)
        target = self._by_amojo_id.get(amojo_msgid)
        if target is None or target.chat_id != chat.chat_id:
            raise ValueError(f"{amojo_msgid!r} is not a message of chat {chat.chat_id}")
        message = {"id": target.amojo_id}
        if target.msgid is not None:
            message["client_id"] = target.msgid
        reaction: dict[str, Any] = {
            "message": message,
            "user": {"id": self.operator_id},
            "conversation": {"id": chat.chat_id, "client_id": chat.conversation_id},
            "type": type,
        }
        if emoji is not None and type == "react":
            reaction["emoji"] = emoji
        moment = int(self._now().timestamp())
        hook = {
            "account_id": connection.account_id,
            "time": moment,
            "action": {"reaction": reaction},
        }
        return await self.post_hook(scope_id, dump_json(hook))

    async def post_hook(
        self, scope_id: str, body: bytes, *, signature: str | None | _Default = _Default.COMPUTE
    ) -> int:
        """POST raw hook bytes; ``signature=None`` omits X-Signature. Returns 0 on no answer."""
        if self.hook_url_template is None:
            raise RuntimeError("hook_url_template is not set: nowhere to send hooks")
        url = self.hook_url_template.replace(":scope_id", scope_id)
        if signature is _Default.COMPUTE:
            signature = signing.sign_hook(self.channel_secret, body)
        headers = {"Content-Type": "application/json", "User-Agent": "amoCRM amoJo/1.0"}
        if signature is not None:
            headers["X-Signature"] = signature
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._hook_timeout)
        kind, message_id = _describe_hook(body)
        started, status, error = time.monotonic(), 0, None
        try:
            status = (await self._client.post(url, content=body, headers=headers)).status_code
        except httpx.TimeoutException:
            error = f"no answer within {self._hook_timeout:g}s"
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {exc}"
        elapsed = time.monotonic() - started
        self.hook_responses.append(
            HookDelivery(scope_id, kind, message_id, status, elapsed, error)
        )
        self._touch()
        return status

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
