"""Records and in-memory state behind the Chats API emulator.

No HTTP here: the emulator (``app.py``) authenticates a request and hands the
parsed JSON to one of the ``_on_*`` handlers, which either raise ``ApiError`` or return
``(status, json_or_None)``; field rules live in ``rules.py``. Where the real API is
undocumented, the choice made here says so in its error text.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal

from emulators.amojo.records import (
    ChatRecord,
    ConnectionRecord,
    DeliveryStatusRecord,
    EditRecord,
    HookDelivery,
    MessageRecord,
    RejectedRequest,
)
from emulators.amojo.rules import (
    CHANNEL_TITLE,
    DELIVERY_ERROR_CODES,
    DELIVERY_STATUSES,
    HISTORY_LIMIT,
    ApiError,
    Obj,
    Reply,
    bad,
    check_edit_message,
    check_new_message,
    check_participant,
    check_source,
    history_item,
    new_message_reply,
    not_found,
    query_int,
)


def _chat_not_found(conversation: str) -> ApiError:
    return not_found("ORIGIN_CHAT_NOT_FOUND", f"no chat {conversation!r} in this scope")


def _message_not_found(ref: str | None) -> ApiError:
    return not_found("ORIGIN_MESSAGE_NOT_FOUND", f"message {ref!r} not found")


class AmojoState:
    """Connections, chats and messages of one channel; public lists grow in arrival order.

    Every change calls ``_touch()``, which wakes ``wait_for`` callers through a Condition.
    """

    def __init__(
        self,
        channel_id: str,
        *,
        bot_id: str,
        allowed_accounts: set[str] | None,
        duplicate_msgid: Literal["error", "idempotent"],
    ) -> None:
        self.channel_id = channel_id
        self.bot_id = bot_id
        self.allowed_accounts = allowed_accounts
        self.duplicate_msgid = duplicate_msgid
        self.connections: dict[str, ConnectionRecord] = {}
        self.chats: dict[str, ChatRecord] = {}
        self.messages: list[MessageRecord] = []
        self.operator_messages: list[MessageRecord] = []
        self.edits: list[EditRecord] = []
        self.delivery_statuses: list[DeliveryStatusRecord] = []
        self.typing: list[dict[str, Any]] = []
        self.reactions: list[dict[str, Any]] = []
        self.rejected: list[RejectedRequest] = []
        self.hook_responses: list[HookDelivery] = []
        self.duplicates: list[str] = []  # msgids sent again, in either duplicate_msgid mode
        self._chat_ids: dict[tuple[str, str], str] = {}
        self._participants: dict[tuple[str, str], dict[str, Any]] = {}
        self._by_amojo_id: dict[str, MessageRecord] = {}
        self._by_msgid: dict[tuple[str, str], MessageRecord] = {}
        self._timeline: dict[str, list[MessageRecord]] = {}
        self._changed = asyncio.Condition()
        self._notify_pending = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the public API
    ) -> None:
        """Return once ``predicate()`` holds; it is re-checked after every state change."""
        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(predicate)
            except TimeoutError:
                what = getattr(predicate, "__qualname__", repr(predicate))
                raise TimeoutError(
                    f"amojo emulator: {what} still false after {timeout:g}s; "
                    f"state {self.summary()}; last rejected {self.rejected[-3:]}"
                ) from None

    def _touch(self) -> None:
        # Handlers mutate state synchronously; one pending notification covers every change
        # made before it runs, because waiters re-check their predicate after it.
        if self._notify_pending:
            return
        with contextlib.suppress(RuntimeError):
            task = asyncio.get_running_loop().create_task(self._notify())
            self._notify_pending = True
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _notify(self) -> None:
        self._notify_pending = False
        async with self._changed:
            self._changed.notify_all()

    def messages_for(self, conversation_id: str) -> list[MessageRecord]:
        return [m for m in self.messages if m.conversation_id == conversation_id]

    def chat_for(self, scope_id: str, conversation_id: str) -> ChatRecord | None:
        chat_id = self._chat_ids.get((scope_id, conversation_id))
        return None if chat_id is None else self.chats[chat_id]

    def summary(self) -> dict[str, int]:
        names = ("connections", "chats", "messages", "operator_messages", "edits")
        names += ("delivery_statuses", "typing", "reactions", "rejected", "hook_responses")
        return {name: len(getattr(self, name)) for name in (*names, "duplicates")}

    def _require_scope(self, scope_id: str) -> ConnectionRecord:
        connection = self.connections.get(scope_id)
        if connection is None or not connection.connected:
            raise not_found("ORIGIN_SCOPE_NOT_FOUND", f"scope {scope_id!r} is not connected")
        return connection

    def _participant(self, scope_id: str, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("ref_id"):
            # an amoCRM user or the channel bot: amojo knows them by their own id
            return {"id": data["ref_id"], "name": data["name"]}
        known = self._participants.setdefault(
            (scope_id, data["id"]), {"id": str(uuid.uuid4()), "client_id": data["id"]}
        )
        known["name"] = data["name"]
        if data.get("avatar"):
            known["avatar"] = data["avatar"]
        known.update({k: v for k, v in data.get("profile", {}).items() if k in ("phone", "email")})
        return dict(known)

    def _new_chat(
        self,
        scope_id: str,
        conversation_id: str,
        user: dict[str, Any],
        source: str | None,
        created_by: Literal["create_chat", "new_message"],
    ) -> ChatRecord:
        participant = self._participant(scope_id, user)
        chat = ChatRecord(
            chat_id=str(uuid.uuid4()),
            scope_id=scope_id,
            conversation_id=conversation_id,
            user=participant,
            contact_name=participant["name"],
            source_external_id=source,
            created_by=created_by,
        )
        self.chats[chat.chat_id] = chat
        self._chat_ids[(scope_id, conversation_id)] = chat.chat_id
        self._timeline[chat.chat_id] = []
        return chat

    def _store(self, record: MessageRecord) -> None:
        self._by_amojo_id[record.amojo_id] = record
        if record.msgid is not None:
            self._by_msgid[(record.scope_id, record.msgid)] = record
        self._timeline[record.chat_id].append(record)
        (self.operator_messages if record.direction == "out" else self.messages).append(record)

    def _find(
        self, scope_id: str, amojo_id: str | None, msgid: str | None
    ) -> MessageRecord | None:
        if amojo_id is not None:
            found = self._by_amojo_id.get(amojo_id)
            if found is not None and msgid is not None and found.msgid not in (None, msgid):
                return None  # both ids given but they name different messages
        else:
            found = self._by_msgid.get((scope_id, msgid or ""))
        return found if found is not None and found.scope_id == scope_id else None

    def _on_connect(self, data: Any) -> Reply:
        body = Obj(data, "")
        account_id = body.req_str("account_id")
        version = body.req_str("hook_api_version")
        title = body.opt_str("title") or CHANNEL_TITLE
        no_window = bool(body.opt_bool("is_time_window_disabled"))
        if version != "v2":
            raise bad(f'hook_api_version: the channel hooks only "v2", not {version!r}')
        if self.allowed_accounts is not None and account_id not in self.allowed_accounts:
            raise ApiError(403, "ORIGIN_ACCOUNT_NOT_ALLOWED", "account not approved for channel")
        scope_id = f"{self.channel_id}_{account_id}"
        # connecting again reuses the scope and keeps its chats, as the real API does
        self.connections[scope_id] = ConnectionRecord(
            scope_id, account_id, title, version, True, no_window
        )
        return 200, {
            "account_id": account_id,
            "title": title,
            "hook_api_version": version,
            "is_time_window_disabled": no_window,
            "scope_id": scope_id,
        }

    def _on_disconnect(self, data: Any) -> Reply:
        account_id = Obj(data, "").req_str("account_id")
        # undocumented for an unknown account; answered 200 like any repeated disconnect
        connection = self.connections.get(f"{self.channel_id}_{account_id}")
        if connection is not None:
            connection.connected = False
        return 200, None

    def _on_create_chat(self, scope_id: str, data: Any) -> Reply:
        body = Obj(data, "")
        conversation_id = body.req_str("conversation_id")
        source = check_source(body)
        check_participant(user := body.req_obj("user"))
        chat = self.chat_for(scope_id, conversation_id) or self._new_chat(
            scope_id, conversation_id, user.data, source, "create_chat"
        )
        return 200, {"id": chat.chat_id, "user": chat.user}

    def _on_message(self, scope_id: str, data: Any) -> Reply:
        body = Obj(data, "")
        event = body.req_str("event_type")
        payload = body.req_obj("payload")
        if event == "new_message":
            return self._new_message(scope_id, payload)
        if event == "edit_message":
            return self._edit_message(scope_id, payload)
        raise bad(f"event_type: expected new_message or edit_message, got {event!r}")

    def _new_message(self, scope_id: str, payload: Obj) -> Reply:
        check_new_message(payload)
        data = payload.data
        original = self._by_msgid.get((scope_id, data["msgid"]))
        if original is not None:
            self.duplicates.append(data["msgid"])
            if self.duplicate_msgid == "idempotent":
                return 200, new_message_reply(original)
            # the real answer is undocumented; this emulator's choice is a 400 envelope
            raise ApiError(400, "DUPLICATE_MSGID", "payload.msgid: already accepted in this scope")
        chat = self.chat_for(scope_id, data["conversation_id"])
        ref_id = data.get("conversation_ref_id")
        if ref_id is not None and (chat is None or chat.chat_id != ref_id):
            raise bad("payload.conversation_ref_id: not the chat of this conversation_id")
        reply = data.get("reply_to", {}).get("message", {})
        if "id" in reply or "msgid" in reply:
            quoted = self._find(scope_id, reply.get("id"), reply.get("msgid"))
            if quoted is None or chat is None or quoted.chat_id != chat.chat_id:
                raise bad("payload.reply_to.message: no such message in this chat")
        for item in data.get("forwards", {}).get("messages", []):
            if ("id" in item or "msgid" in item) and not self._find(
                scope_id, item.get("id"), item.get("msgid")
            ):
                raise bad("payload.forwards.messages[0]: no such message in this integration")
        if chat is None:
            # on an outgoing message the client is the receiver, not the sender
            client = data.get("receiver", data["sender"])
            source = data.get("source", {}).get("external_id")
            chat = self._new_chat(scope_id, data["conversation_id"], client, source, "new_message")
        receiver = data.get("receiver")
        record = MessageRecord(
            scope_id=scope_id,
            chat_id=chat.chat_id,
            conversation_id=data["conversation_id"],
            msgid=data["msgid"],
            amojo_id=str(uuid.uuid4()),
            payload=data,
            silent=bool(data.get("silent", False)),
            sender=self._participant(scope_id, data["sender"]),
            receiver=None if receiver is None else self._participant(scope_id, receiver),
            message=dict(data["message"]),
            timestamp=data["timestamp"],
            msec_timestamp=data["msec_timestamp"],
        )
        self._store(record)
        return 200, new_message_reply(record)

    def _edit_message(self, scope_id: str, payload: Obj) -> Reply:
        check_edit_message(payload)
        data = payload.data
        chat = self.chat_for(scope_id, data["conversation_id"])
        if chat is None:
            raise _chat_not_found(data["conversation_id"])
        amojo_id, msgid = data.get("id"), data.get("msgid")
        target = self._find(scope_id, amojo_id, msgid)
        if target is None or target.chat_id != chat.chat_id:
            raise _message_not_found(amojo_id or msgid)
        if msgid is not None and target.msgid is None:
            # id + msgid attaches the integration's id to a message born in amoCRM
            if (scope_id, msgid) in self._by_msgid:
                raise ApiError(400, "DUPLICATE_MSGID", "payload.msgid: already used in this scope")
            target.msgid = msgid
            self._by_msgid[(scope_id, msgid)] = target
        target.message = {**target.message, **data["message"]}
        self.edits.append(
            EditRecord(scope_id, chat.chat_id, chat.conversation_id, msgid, target.amojo_id, data)
        )
        return 200, {}  # body undocumented; the emulator answers an empty object

    def _on_delivery_status(self, scope_id: str, msgid: str, data: Any) -> Reply:
        target = self._by_amojo_id.get(msgid)
        # only ids amoCRM put in a hook are valid: statuses are for outgoing messages
        if target is None or target.scope_id != scope_id or target.direction != "out":
            raise _message_not_found(msgid)
        body = Obj(data, "")
        if body.req_str("msgid") != msgid:
            raise bad("msgid: must equal the amoCRM message id in the path")
        status = body.req_int("delivery_status")
        if status not in DELIVERY_STATUSES:
            raise bad(f"delivery_status: expected 1, 2 or -1, got {status}")
        code, error = body.opt_int("error_code"), body.opt_str("error")
        if status == -1:
            if code not in DELIVERY_ERROR_CODES:
                raise bad(f"error_code: one of 901..905 is required with status -1, got {code}")
            if code == 905 and not error:
                raise bad("error: required (non-empty) with error_code 905")
        elif code is not None or error is not None:
            raise bad("error_code, error: only allowed with delivery_status -1")
        self.delivery_statuses.append(DeliveryStatusRecord(scope_id, msgid, data))
        return 200, None

    def _on_typing(self, scope_id: str, data: Any) -> Reply:
        body = Obj(data, "")
        conversation_id = body.req_str("conversation_id")
        body.req_obj("sender").req_str("id")
        body.opt_int("duration_ms", minimum=1)
        chat = self.chat_for(scope_id, conversation_id)
        if chat is None:
            # emulator's choice: amoCRM has nowhere to show typing before the first message
            raise _chat_not_found(conversation_id)
        self.typing.append({"scope_id": scope_id, "chat_id": chat.chat_id, "body": data})
        return 204, None

    def _on_react(self, scope_id: str, data: Any) -> Reply:
        body = Obj(data, "")
        conversation_id = body.opt_str("conversation_id")
        chat_ref = body.opt_str("conversation_ref_id")
        if conversation_id is None and chat_ref is None:
            raise bad("conversation_id: conversation_id or conversation_ref_id is required")
        amojo_id, msgid = body.opt_str("id"), body.opt_str("msgid")
        if amojo_id is None and msgid is None:
            raise bad("msgid: msgid or id is required")
        user = body.req_obj("user")
        user.req_str("id")
        user.opt_str("ref_id")
        kind = body.req_str("type")
        if kind not in ("react", "unreact"):
            raise bad(f"type: expected react or unreact, got {kind!r}")
        if body.opt_str("emoji") is None and kind == "react":
            raise bad("emoji: required for type react")
        chat = self.chat_for(scope_id, conversation_id) if conversation_id else None
        chat = chat or self.chats.get(chat_ref or "")
        if chat is None or chat.scope_id != scope_id:
            raise _chat_not_found(conversation_id or chat_ref or "")
        target = self._find(scope_id, amojo_id, msgid)
        if target is None or target.chat_id != chat.chat_id:
            raise _message_not_found(amojo_id or msgid)
        record = {"scope_id": scope_id, "chat_id": chat.chat_id, "amojo_id": target.amojo_id}
        self.reactions.append({**record, "body": data})
        return 200, None

    def _on_history(self, scope_id: str, chat_id: str, query: Mapping[str, str]) -> Reply:
        offset = query_int(query, "offset", 0)
        limit = query_int(query, "limit", HISTORY_LIMIT)
        if not 1 <= limit <= HISTORY_LIMIT:
            raise bad(f"limit: must be between 1 and {HISTORY_LIMIT}, got {limit}")
        chat = self.chats.get(chat_id)
        if chat is None or chat.scope_id != scope_id:
            return 204, None
        # newest first; equal timestamps keep arrival order (latest first)
        ordered = sorted(self._timeline[chat_id], key=lambda r: r.msec_timestamp)[::-1]
        page = ordered[offset : offset + limit]
        if not page:
            return 204, None
        return 200, {"messages": [history_item(record) for record in page]}
