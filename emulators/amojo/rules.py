"""Payload rules of the Chats API emulator: what the real API accepts and how it answers.

Every check mirrors a rule of ``amojo-chats-api.md`` (sections 4 and 7). Errors name the field
by its dotted path so a failing bridge test says what to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulators.amojo.records import MessageRecord

MESSAGE_TYPES = frozenset(
    {"text", "contact", "file", "video", "picture", "voice", "audio", "sticker", "location"}
)
NEEDS_FILE = frozenset({"picture", "video", "file"})
NEEDS_MEDIA = NEEDS_FILE | {"voice", "audio", "sticker"}
DELIVERY_STATUSES = frozenset({1, 2, -1})
DELIVERY_ERROR_CODES = frozenset({901, 902, 903, 904, 905})
HISTORY_FIELDS = (
    "type", "text", "media", "thumbnail", "file_name", "file_size", "media_group_id",
    "location", "contact",
)  # fmt: skip
HISTORY_LIMIT = 50
CHANNEL_TITLE = "Emulated channel"
Reply = tuple[int, Any]


class ApiError(Exception):
    """A 4xx the emulator answers; ``detail`` is kept for test diagnostics, never sent."""

    def __init__(self, status: int, error_type: str, description: str, detail: str = "") -> None:
        super().__init__(f"{status} {error_type}: {description}")
        self.status = status
        self.error_type = error_type
        self.description = description
        self.detail = detail or description


def envelope(status: int, error_type: str, description: str) -> dict[str, Any]:
    return {
        "status": 0,
        "error_code": status,
        "error_type": error_type,
        "error_description": description,
    }


def bad(description: str) -> ApiError:
    return ApiError(400, "ORIGIN_INVALID_FIELD", description)


def not_found(error_type: str, description: str) -> ApiError:
    return ApiError(404, error_type, description)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    names = {dict: "object", list: "array", str: "string", int: "int", float: "float"}
    return names.get(type(value), type(value).__name__)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Obj:
    """A JSON object under validation; errors name the field by its dotted path.

    A present key must have the right type: ``null`` is never accepted for an omitted value,
    because the API is strictly typed and the spec says to omit unused members.
    """

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise bad(f"{where or 'body'}: expected object, got {_kind(value)}")
        self.data: dict[str, Any] = value
        self.where = where

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str, ok: Callable[[Any], bool], expected: str, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise bad(f"{self.name(key)}: required {expected} is missing")
            return None
        value = self.data[key]
        if not ok(value):
            raise bad(f"{self.name(key)}: expected {expected}, got {_kind(value)}")
        return value

    def opt_str(self, key: str) -> str | None:
        return self._get(key, lambda v: isinstance(v, str), "string", False)

    def req_str(self, key: str) -> str:
        value: str = self._get(key, lambda v: isinstance(v, str), "string", True)
        if not value:
            raise bad(f"{self.name(key)}: must not be empty")
        return value

    def opt_int(self, key: str, *, minimum: int | None = None) -> int | None:
        value = self._get(key, _is_int, "int", False)
        if value is not None and minimum is not None and value < minimum:
            raise bad(f"{self.name(key)}: must be >= {minimum}, got {value}")
        return value

    def req_int(self, key: str) -> int:
        value: int = self._get(key, _is_int, "int", True)
        return value

    def req_number(self, key: str, limit: float) -> float:
        value: float = self._get(key, _is_number, "number (float)", True)
        if abs(value) > limit:
            raise bad(f"{self.name(key)}: {value} is out of range ±{limit:g}")
        return value

    def req_list(self, key: str) -> list[Any]:
        value: list[Any] = self._get(key, lambda v: isinstance(v, list), "array", True)
        return value

    def opt_bool(self, key: str) -> bool | None:
        return self._get(key, lambda v: isinstance(v, bool), "bool", False)

    def opt_obj(self, key: str) -> Obj | None:
        value = self._get(key, lambda v: isinstance(v, dict), "object", False)
        return None if value is None else Obj(value, self.name(key))

    def req_obj(self, key: str) -> Obj:
        return Obj(self._get(key, lambda v: isinstance(v, dict), "object", True), self.name(key))

    def opt_url(self, key: str) -> str | None:
        value = self.opt_str(key)
        # amoCRM downloads media and avatars itself, so only a public URL can work
        if value is not None and not value.startswith(("http://", "https://")):
            raise bad(f"{self.name(key)}: must be a publicly downloadable http(s) URL")
        return value


def check_participant(who: Obj) -> None:
    who.req_str("id")
    who.req_str("name")
    who.opt_str("ref_id")
    who.opt_url("avatar")
    who.opt_str("profile_link")
    if (profile := who.opt_obj("profile")) is not None:
        profile.opt_str("phone")
        profile.opt_str("email")


def check_source(parent: Obj) -> str | None:
    source = parent.opt_obj("source")
    if source is None:
        return None
    external_id = source.req_str("external_id")
    if len(external_id) > 40 or not all(" " <= ch <= "~" for ch in external_id):
        raise bad(f"{source.name('external_id')}: at most 40 printable ASCII characters")
    return external_id


def check_message(message: Obj, *, edit: bool) -> None:
    kind = message.req_str("type")
    if kind not in MESSAGE_TYPES:
        raise bad(f"{message.name('type')}: unknown message type {kind!r}")
    if kind == "text":
        message.req_str("text")
    else:
        message.opt_str("text")  # a caption, may be empty
    # an edit may leave media, file_name and file_size out when they do not change
    if kind in NEEDS_MEDIA and not edit and "media" not in message.data:
        raise bad(f"{message.name('media')}: required for type {kind!r}")
    message.opt_url("media")
    if kind in NEEDS_FILE and not edit:
        message.req_str("file_name")
        message.req_int("file_size")
    message.opt_str("file_name")
    message.opt_int("file_size", minimum=0)
    message.opt_int("media_duration", minimum=0)
    for key in ("sticker_id", "callback_data", "thumbnail", "media_group_id"):
        message.opt_str(key)
    location = message.req_obj("location") if kind == "location" else message.opt_obj("location")
    if location is not None:
        location.req_number("lon", 180)
        location.req_number("lat", 90)
    contact = message.req_obj("contact") if kind == "contact" else message.opt_obj("contact")
    if contact is not None:
        contact.req_str("name")
        contact.req_str("phone")
    if (shared := message.opt_obj("shared_post")) is not None:
        shared.req_str("url")
        shared.req_str("type")
    if (post := message.opt_obj("post")) is not None:
        post.req_str("id")
        post.req_str("url")
    if (status := message.opt_obj("delivery_status")) is not None:
        if not edit:
            raise bad(f"{status.where}: only allowed in edit_message")
        status.req_int("status_code")
        status.opt_int("error_code")
        status.opt_str("error")


def check_embedded(embedded: Obj) -> None:
    """An embedded message is a reference (id / msgid) or a full description of one."""
    refs = [key for key in ("id", "msgid") if key in embedded.data]
    for key in refs:
        embedded.req_str(key)
    if refs:
        return
    embedded.req_str("type")
    embedded.req_int("timestamp")
    embedded.req_int("msec_timestamp")
    sender = embedded.req_obj("sender")
    if sender.opt_str("id") is None and sender.opt_str("ref_id") is None:
        sender.req_str("name")


def check_new_message(payload: Obj) -> None:
    payload.req_int("timestamp")
    payload.req_int("msec_timestamp")
    payload.req_str("msgid")
    payload.req_str("conversation_id")
    payload.opt_str("conversation_ref_id")
    payload.opt_bool("silent")
    check_source(payload)
    check_participant(payload.req_obj("sender"))
    if (receiver := payload.opt_obj("receiver")) is not None:
        check_participant(receiver)
    check_message(payload.req_obj("message"), edit=False)
    if (reply := payload.opt_obj("reply_to")) is not None:
        check_embedded(reply.req_obj("message"))
    if (forwards := payload.opt_obj("forwards")) is not None:
        items = forwards.req_list("messages")
        if len(items) != 1:
            raise bad(f"{forwards.name('messages')}: exactly one message can be forwarded")
        check_embedded(Obj(items[0], forwards.name("messages[0]")))


def check_edit_message(payload: Obj) -> None:
    payload.opt_int("timestamp")
    payload.opt_int("msec_timestamp")
    if payload.opt_str("msgid") is None and payload.opt_str("id") is None:
        raise bad("payload.msgid: msgid or id is required to name the edited message")
    payload.req_str("conversation_id")
    check_message(payload.req_obj("message"), edit=True)


def history_item(record: MessageRecord) -> dict[str, Any]:
    # the real history leaves empty values out
    message = {
        k: record.message[k] for k in HISTORY_FIELDS if record.message.get(k) not in (None, "")
    }
    message["id"] = record.amojo_id
    if record.msgid is not None:
        message["client_id"] = record.msgid
    item: dict[str, Any] = {
        "timestamp": record.timestamp,
        "msec_timestamp": record.msec_timestamp,
        "sender": record.sender,
        "message": message,
    }
    if record.receiver is not None:
        item["receiver"] = record.receiver
    return item


def new_message_reply(record: MessageRecord) -> dict[str, Any]:
    # the names are reversed on purpose: msgid is amoCRM's id, ref_id is the caller's
    return {
        "new_message": {
            "conversation_id": record.conversation_id,
            "sender_id": record.sender["id"],
            "receiver_id": record.receiver["id"] if record.receiver else None,
            "msgid": record.amojo_id,
            "ref_id": record.msgid,
        }
    }


def query_int(query: Mapping[str, str], key: str, default: int) -> int:
    raw = query.get(key)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise bad(f"{key}: expected a non-negative integer, got {raw!r}")
    return int(raw)
