"""Pure Bot API validation rules used by the Telegram emulator.

Nothing here touches emulator state, so each rule can be read against the Bot API docs on its
own. Error texts are Telegram's own wording where known, because bridge code matches on them.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from email.message import Message as MimeHeaders
from typing import Any
from urllib.parse import parse_qsl


class ApiError(Exception):
    """A Bot API failure, answered as Telegram's ``{"ok": false, ...}`` envelope."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


# The 73 plain emoji a bot may set, exactly as Telegram lists them: several without U+FE0F, and a
# variant *with* U+FE0F is rejected, so no normalisation happens here on purpose.
_REACTIONS = (
    "\u2764 \U0001f44d \U0001f44e \U0001f525 \U0001f970 \U0001f44f \U0001f601 \U0001f914 "
    "\U0001f92f \U0001f631 \U0001f92c \U0001f622 \U0001f389 \U0001f929 \U0001f92e \U0001f4a9 "
    "\U0001f64f \U0001f44c \U0001f54a \U0001f921 \U0001f971 \U0001f974 \U0001f60d \U0001f433 "
    "\u2764\u200d\U0001f525 \U0001f31a \U0001f32d \U0001f4af \U0001f923 \u26a1 \U0001f34c "
    "\U0001f3c6 \U0001f494 \U0001f928 \U0001f610 \U0001f353 \U0001f37e \U0001f48b \U0001f595 "
    "\U0001f608 \U0001f634 \U0001f62d \U0001f913 \U0001f47b \U0001f468\u200d\U0001f4bb "
    "\U0001f440 \U0001f383 \U0001f648 \U0001f607 \U0001f628 \U0001f91d \u270d \U0001f917 "
    "\U0001fae1 \U0001f385 \U0001f384 \u2603 \U0001f485 \U0001f92a \U0001f5ff \U0001f192 "
    "\U0001f498 \U0001f649 \U0001f984 \U0001f618 \U0001f48a \U0001f64a \U0001f60e \U0001f47e "
    "\U0001f937\u200d\u2642 \U0001f937 \U0001f937\u200d\u2640 \U0001f621"
)
ALLOWED_REACTIONS: frozenset[str] = frozenset(_REACTIONS.split())
assert len(ALLOWED_REACTIONS) == 73

_CHAT_ACTIONS = (
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note"
)
CHAT_ACTIONS = frozenset(_CHAT_ACTIONS.split())
_UPDATE_TYPES = (
    "message edited_message channel_post edited_channel_post business_connection "
    "business_message edited_business_message deleted_business_messages message_reaction "
    "message_reaction_count inline_query chosen_inline_result callback_query shipping_query "
    "pre_checkout_query purchased_paid_media poll poll_answer my_chat_member chat_member "
    "chat_join_request chat_boost removed_chat_boost"
)
UPDATE_TYPES = frozenset(_UPDATE_TYPES.split())
# What an empty (or never given) allowed_updates list means on Telegram's side.
DEFAULT_UPDATE_TYPES = UPDATE_TYPES - {"chat_member", "message_reaction", "message_reaction_count"}

SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")

# Fields that arrive as JSON strings inside form data, with the error Telegram gives when they
# don't parse.
JSON_FIELDS: dict[str, str] = {
    "reply_markup": "can't parse reply keyboard markup JSON object",
    "reply_parameters": "can't parse reply parameters JSON object",
    "entities": "can't parse entities JSON object",
    "caption_entities": "can't parse entities JSON object",
    "reaction": "can't parse reactions JSON object",
    "media": "can't parse InputMedia JSON object",
    "allowed_updates": "can't parse allowed updates JSON object",
    "link_preview_options": "can't parse link preview options JSON object",
}


@dataclass
class Upload:
    filename: str
    content: bytes = field(repr=False)
    content_type: str


@dataclass
class RequestData:
    params: dict[str, Any]
    uploads: dict[str, Upload]


def parse_body(content_type: str, body: bytes, query: list[tuple[str, str]]) -> RequestData:
    """Decode a Bot API request the way Telegram does: query string, form, multipart or JSON."""
    params: dict[str, Any] = dict(query)
    uploads: dict[str, Upload] = {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" and body.strip():
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise bad_request("can't parse JSON encoded request") from exc
        if not isinstance(decoded, dict):
            raise bad_request("can't parse JSON encoded request")
        params.update(decoded)
    elif kind == "multipart/form-data":
        fields, uploads = _parse_multipart(content_type, body)
        params.update(fields)
    elif body:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    for name, error in JSON_FIELDS.items():
        value = params.get(name)
        if isinstance(value, str):
            try:
                params[name] = json.loads(value)
            except ValueError as exc:
                raise bad_request(error) from exc
    return RequestData(params, uploads)


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    # Hand-rolled because Starlette's form parser needs python-multipart, which the bridge does
    # not depend on; multipart framing is simple enough to split directly.
    header = MimeHeaders()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise bad_request("can't parse multipart/form-data request")
    fields: dict[str, str] = {}
    uploads: dict[str, Upload] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        part = MimeHeaders()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            part[key.strip()] = value.strip()
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            mime = part.get_content_type() if part["content-type"] else "application/octet-stream"
            uploads[name] = Upload(filename, data, mime)
    return fields, uploads


# --- keyboards, reactions, webhooks ----------------------------------------------------------


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate reply_markup; return what Telegram echoes back in the Message (inline only)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request(JSON_FIELDS["reply_markup"])
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for button in (b for row in rows for b in row):
            _check_inline_button(button)
        return {"inline_keyboard": rows}
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
            )
        for button in (b for row in rows for b in row):
            text = button.get("text") if isinstance(button, dict) else button
            if not isinstance(text, str) or not text:
                raise bad_request(
                    'can\'t parse keyboard button: Field "text" must be of type String'
                )
        return None
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return None
    raise bad_request(JSON_FIELDS["reply_markup"])


_BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                   "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
                   "copy_text", "callback_game", "pay")  # fmt: skip


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not any(action in button for action in _BUTTON_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
            raise bad_request("BUTTON_URL_INVALID")


def check_reactions(reaction: Any) -> list[dict[str, Any]]:
    if reaction is None:
        return []
    if not isinstance(reaction, list):
        raise bad_request(JSON_FIELDS["reaction"])
    if len(reaction) > 1:
        # Non-premium accounts, bots included, may leave one reaction per message.
        raise bad_request("REACTIONS_TOO_MANY")
    for item in reaction:
        if not isinstance(item, dict) or item.get("type") != "emoji":
            raise bad_request("REACTION_INVALID")
        if item.get("emoji") not in ALLOWED_REACTIONS:
            raise bad_request("REACTION_INVALID")
    return [{"type": "emoji", "emoji": item["emoji"]} for item in reaction]


def check_allowed_updates(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(JSON_FIELDS["allowed_updates"])
    # Telegram silently ignores names it does not know.
    return [v for v in value if v in UPDATE_TYPES]


def check_secret_token(secret: str) -> None:
    if not SECRET_TOKEN_RE.fullmatch(secret):
        if len(secret) > 256:
            raise bad_request("bad webhook: secret token is too long")
        raise bad_request("bad webhook: secret token contains unallowed characters")


# --- media ------------------------------------------------------------------------------------


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF, JPEG or WebP picture, or None if it isn't one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"RIFF") and data[8:16] == b"WEBPVP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        (segment,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        pos += 2 + segment
    return None


def check_photo(data: bytes) -> tuple[int, int]:
    size = image_size(data)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if width <= 0 or height <= 0 or width + height > 10000 or max(size) / min(size) > 20:
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return size
