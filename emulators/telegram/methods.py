"""Bot API methods of the Telegram emulator: one coroutine per method, over ``EmulatorState``.

Each handler returns the ``result`` Telegram would send, or raises ``ApiError`` with Telegram's
status and text. Checks run in roughly Telegram's order: chat, then content, then files.
"""

from __future__ import annotations

import asyncio
import mimetypes
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from emulators.telegram.markup import prepare_text
from emulators.telegram.rules import (
    CHAT_ACTIONS,
    DEFAULT_UPDATE_TYPES,
    ApiError,
    Upload,
    bad_request,
    check_allowed_updates,
    check_photo,
    check_reactions,
    check_reply_markup,
    check_secret_token,
)
from emulators.telegram.state import (
    FILE_UPLOAD_LIMIT,
    FILE_URL_LIMIT,
    PHOTO_UPLOAD_LIMIT,
    PHOTO_URL_LIMIT,
    BotState,
    ChatState,
    EmulatorState,
    FileRecord,
    SentMessage,
    Webhook,
    quoted,
)

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
DEFAULT_MIME = {
    "photo": "image/jpeg",
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "video": "video/mp4",
    "animation": "video/mp4",
    "video_note": "video/mp4",
    "sticker": "image/webp",
}
# Telegram fetches only these as documents by URL; anything else is refused.
URL_DOCUMENT_TYPES = frozenset({"application/pdf", "application/zip", "image/gif"})
MEDIA_KINDS = (
    "photo",
    "document",
    "video",
    "animation",
    "voice",
    "audio",
    "sticker",
    "video_note",
)
NO_CAPTION = frozenset({"sticker", "video_note"})


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


# --- parameter helpers -------------------------------------------------------------------------


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f'field "{name}" must be of type Integer') from None


def _bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _target(call: Call) -> ChatState:
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


def _message_id(call: Call) -> int:
    message_id = _int(call.params, "message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    return message_id


def _reply_to(call: Call, chat: ChatState) -> dict[str, Any] | None:
    params = call.params
    reply = params.get("reply_parameters")
    if isinstance(reply, dict):
        message_id = _int(reply, "message_id")
        allow_missing = _bool(reply, "allow_sending_without_reply")
    else:
        message_id = _int(params, "reply_to_message_id")
        allow_missing = _bool(params, "allow_sending_without_reply")
    if message_id is None:
        return None
    target = chat.messages.get(message_id)
    if target is None:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return quoted(target)


def _record_sent(call: Call, chat: ChatState, message: dict[str, Any]) -> None:
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


# --- account and updates -----------------------------------------------------------------------


async def get_me(call: Call) -> Any:
    extra = {
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }
    return {**call.bot.user, **extra}


async def log_out(call: Call) -> Any:
    return True


async def close(call: Call) -> Any:
    # After close the cloud server refuses the bot for ten minutes (see telegram-notes.md).
    call.bot.closed_until = time.monotonic() + 600
    return True


async def get_updates(call: Call) -> Any:
    state, bot, params = call.state, call.bot, call.params
    if bot.webhook is not None:
        raise _webhook_conflict()
    offset = _int(params, "offset", 0) or 0
    limit = min(max(_int(params, "limit", 100) or 100, 1), 100)
    timeout = min(max(_int(params, "timeout", 0) or 0, 0), 50)
    if params.get("allowed_updates") is not None:
        allowed = check_allowed_updates(params["allowed_updates"])
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
    if offset > 0:
        bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
    elif offset < 0:
        bot.updates = bot.updates[offset:]
    bot.poll_generation += 1
    generation = bot.poll_generation
    state.notify()  # wakes an earlier poller, which must now give way
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if bot.poll_generation != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running",
            )
        if bot.webhook is not None:
            raise _webhook_conflict()
        batch = bot.updates[:limit]
        remaining = deadline - loop.time()
        if batch or remaining <= 0 or state.closing:
            state.mark_handed(bot, batch)
            return batch
        if call.disconnected is not None and call.disconnected.done():
            return []  # nobody listens; handing nothing out keeps the queue intact
        await state.wait_changed(remaining, *([call.disconnected] if call.disconnected else []))


def _webhook_conflict() -> ApiError:
    return ApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
        "delete the webhook first",
    )


async def set_webhook(call: Call) -> Any:
    state, bot, params = call.state, call.bot, call.params
    url = str(params.get("url") or "")
    if not url:
        state.set_webhook(bot, None)
        return True
    if not url.startswith(("https://", "http://")):
        # Plain http is let through: test receivers listen on loopback without TLS.
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.get("secret_token")
    if secret is not None:
        check_secret_token(str(secret))
    if params.get("allowed_updates") is not None:
        allowed = check_allowed_updates(params["allowed_updates"])
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
    if _bool(params, "drop_pending_updates"):
        bot.updates.clear()
    max_connections = min(max(_int(params, "max_connections", 40) or 40, 1), 100)
    state.set_webhook(bot, Webhook(url, str(secret) if secret else None, max_connections))
    return True


async def delete_webhook(call: Call) -> Any:
    if _bool(call.params, "drop_pending_updates"):
        call.bot.updates.clear()
    call.state.set_webhook(call.bot, None)
    return True


async def get_webhook_info(call: Call) -> Any:
    bot, webhook = call.bot, call.bot.webhook
    info: dict[str, Any] = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if webhook is not None:
        info["max_connections"] = webhook.max_connections
        info["ip_address"] = "127.0.0.1"
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
        if bot.allowed_updates != DEFAULT_UPDATE_TYPES:
            info["allowed_updates"] = sorted(bot.allowed_updates)
    return info


# --- sending ---------------------------------------------------------------------------------


async def send_message(call: Call) -> Any:
    params = call.params
    chat = _target(call)
    text, entities = prepare_text(
        params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
    )
    markup = check_reply_markup(params.get("reply_markup"))
    reply_to = _reply_to(call, chat)
    message = call.state.new_message(
        chat,
        call.bot.user,
        reply_to_message=reply_to,
        text=text,
        entities=entities,
        reply_markup=markup,
    )
    _record_sent(call, chat, message)
    return message


def _send_media(kind: str) -> Handler:
    async def handler(call: Call) -> Any:
        params = call.params
        chat = _target(call)
        caption, caption_entities = "", []
        if kind not in NO_CAPTION:
            caption, caption_entities = prepare_text(
                params.get("caption"),
                params.get("parse_mode"),
                params.get("caption_entities"),
                caption=True,
            )
        markup = check_reply_markup(params.get("reply_markup"))
        reply_to = _reply_to(call, chat)
        record = await _input_file(call, kind, params.get(kind))
        message = call.state.new_message(
            chat,
            call.bot.user,
            reply_to_message=reply_to,
            caption=caption,
            caption_entities=caption_entities,
            reply_markup=markup,
            **{kind: call.state.file_object(kind, record, params)},
        )
        _record_sent(call, chat, message)
        return message

    handler.__name__ = f"send_{kind}"
    return handler


async def _input_file(call: Call, kind: str, value: Any) -> FileRecord:
    """Resolve an InputFile (upload, attach://, URL or file_id) into a stored file."""
    state = call.state
    upload: Upload | None = None
    if value is None and kind in call.uploads:
        upload = call.uploads[kind]
    elif isinstance(value, str) and value.startswith("attach://"):
        upload = call.uploads.get(value.removeprefix("attach://"))
        if upload is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
    elif isinstance(value, str) and value.startswith(("http://", "https://")):
        limit = PHOTO_URL_LIMIT if kind == "photo" else FILE_URL_LIMIT
        content, mime = await state.fetch_url(value, limit)
        if (kind == "photo" and not mime.startswith("image/")) or (
            kind == "document" and mime not in URL_DOCUMENT_TYPES
        ):
            raise bad_request("wrong type of the web page content")
        name = value.rsplit("/", 1)[-1].split("?")[0] or None
        return _store(call, kind, content, name, mime)
    elif isinstance(value, str) and value:
        record = state.files.get(value)
        if record is None or record.bot_id != call.bot.bot_id:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if record.kind not in (None, kind):
            stored, wanted = record.kind.replace("_", " "), kind.replace("_", " ")
            raise bad_request(f"can't use file of type {stored.title()} as {wanted.title()}")
        return record
    if upload is None:
        raise bad_request(f"there is no {kind} in the request")
    limit = PHOTO_UPLOAD_LIMIT if kind == "photo" else FILE_UPLOAD_LIMIT
    if len(upload.content) > limit:
        raise ApiError(413, "Request Entity Too Large")
    mime = mimetypes.guess_type(upload.filename)[0] or upload.content_type
    if mime == "application/octet-stream":
        mime = DEFAULT_MIME.get(kind, mime)
    return _store(call, kind, upload.content, upload.filename, mime)


def _store(call: Call, kind: str, content: bytes, name: str | None, mime: str) -> FileRecord:
    if kind == "photo":
        check_photo(content)
    if not content:
        raise bad_request("file must be non-empty")
    file_name = name if kind in ("document", "video", "animation", "audio") else None
    return call.state.store_file(call.bot, content, kind=kind, file_name=file_name, mime_type=mime)


async def send_media_group(call: Call) -> Any:
    params = call.params
    chat = _target(call)
    media = params.get("media")
    if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
        raise bad_request("can't parse InputMedia JSON object")
    if not 2 <= len(media) <= 10:
        raise bad_request("wrong number of media in the group: 2-10 items are allowed")
    kinds = [str(m.get("type")) for m in media]
    for kind in kinds:
        if kind not in ("photo", "video", "document", "audio"):
            raise bad_request(f"unsupported media type {kind!r} in the group")
    for special in ("document", "audio"):
        if special in kinds and any(k != special for k in kinds):
            raise bad_request(f"{special} can't be mixed with other media types")
    captions = [
        prepare_text(
            m.get("caption"), m.get("parse_mode"), m.get("caption_entities"), caption=True
        )
        for m in media
    ]
    reply_to = _reply_to(call, chat)
    records = [
        await _input_file(call, kind, m.get("media")) for kind, m in zip(kinds, media, strict=True)
    ]
    group_id = str(secrets.randbits(60))
    messages = []
    for index, (kind, item, record, (caption, entities)) in enumerate(
        zip(kinds, media, records, captions, strict=True)
    ):
        message = call.state.new_message(
            chat,
            call.bot.user,
            reply_to_message=reply_to if index == 0 else None,
            media_group_id=group_id,
            caption=caption,
            caption_entities=entities,
            **{kind: call.state.file_object(kind, record, item)},
        )
        _record_sent(call, chat, message)
        messages.append(message)
    return messages


async def send_chat_action(call: Call) -> Any:
    chat = _target(call)
    action = call.params.get("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    entry = {"bot_id": call.bot.bot_id, "chat_id": chat.chat_id, "action": action}
    call.state.chat_actions.append({**entry, "at": time.monotonic()})
    call.state.notify()
    return True


async def set_message_reaction(call: Call) -> Any:
    chat = _target(call)
    message_id = _message_id(call)
    if message_id not in chat.messages:
        raise bad_request("message to react not found")
    reaction = check_reactions(call.params.get("reaction"))
    chat.bot_reactions[message_id] = reaction
    entry = {
        "bot_id": call.bot.bot_id,
        "chat_id": chat.chat_id,
        "message_id": message_id,
        "reaction": reaction,
        "is_big": _bool(call.params, "is_big"),
    }
    call.state.reactions_set.append({**entry, "at": time.monotonic()})
    call.state.notify()
    return True


# --- editing and deleting ----------------------------------------------------------------------


def _editable(call: Call) -> tuple[ChatState, dict[str, Any]]:
    if call.params.get("inline_message_id"):
        raise bad_request("message to edit not found")  # no inline mode in the emulator
    chat = _target(call)
    message = chat.messages.get(_message_id(call))
    if message is None:
        raise bad_request("message to edit not found")
    if message["from"]["id"] != call.bot.bot_id:
        raise bad_request("message can't be edited")
    return chat, message


def _apply_edit(call: Call, chat: ChatState, old: dict[str, Any], **changes: Any) -> Any:
    markup = check_reply_markup(call.params.get("reply_markup"))
    new = {k: v for k, v in old.items() if k not in ("reply_markup", "edit_date")}
    for key, value in changes.items():
        new.pop(key, None)
        if value:
            new[key] = value
    if markup is not None:
        new["reply_markup"] = markup
    if new == {k: v for k, v in old.items() if k != "edit_date"}:
        raise bad_request(NOT_MODIFIED)
    new["edit_date"] = int(time.time())
    chat.messages[new["message_id"]] = new
    _record_sent(call, chat, new)
    return new


async def edit_message_text(call: Call) -> Any:
    chat, old = _editable(call)
    if "text" not in old:
        raise bad_request("there is no text in the message to edit")
    params = call.params
    text, entities = prepare_text(
        params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
    )
    return _apply_edit(call, chat, old, text=text, entities=entities)


async def edit_message_caption(call: Call) -> Any:
    chat, old = _editable(call)
    if not any(kind in old for kind in MEDIA_KINDS):
        raise bad_request("there is no caption in the message to edit")
    params = call.params
    caption, entities = prepare_text(
        params.get("caption"),
        params.get("parse_mode"),
        params.get("caption_entities"),
        caption=True,
    )
    return _apply_edit(call, chat, old, caption=caption, caption_entities=entities)


async def edit_message_reply_markup(call: Call) -> Any:
    chat, old = _editable(call)
    return _apply_edit(call, chat, old)


async def delete_message(call: Call) -> Any:
    chat = _target(call)
    message_id = _message_id(call)
    if chat.messages.pop(message_id, None) is None:
        raise bad_request("message to delete not found")
    entry = {"bot_id": call.bot.bot_id, "chat_id": chat.chat_id, "message_id": message_id}
    call.state.deleted.append({**entry, "at": time.monotonic()})
    call.state.notify()
    return True


async def answer_callback_query(call: Call) -> Any:
    query_id = str(call.params.get("callback_query_id") or "")
    query = call.state.callback_queries.get(query_id)
    if query is None or query["bot_id"] != call.bot.bot_id or query["answered"]:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = call.params.get("text")
    if text is not None and len(str(text)) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query["answered"] = True
    entry = {"bot_id": call.bot.bot_id, "callback_query_id": query_id, "text": text}
    call.state.callback_answers.append({**entry, "at": time.monotonic()})
    call.state.notify()
    return True


async def get_file(call: Call) -> Any:
    record = call.state.files.get(str(call.params.get("file_id") or ""))
    if record is None or record.bot_id != call.bot.bot_id:
        raise bad_request("invalid file_id")
    if record.file_size > call.state.download_limit:
        raise bad_request("file is too big")
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_size": record.file_size,
        "file_path": record.file_path,
    }


METHODS: dict[str, Handler] = {
    "getMe": get_me,
    "logOut": log_out,
    "close": close,
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "sendMessage": send_message,
    **{"send" + k.title().replace("_", ""): _send_media(k) for k in MEDIA_KINDS},
    "sendMediaGroup": send_media_group,
    "sendChatAction": send_chat_action,
    "setMessageReaction": set_message_reaction,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
    "getFile": get_file,
}
# Telegram matches method names case-insensitively.
CANONICAL: dict[str, str] = {name.lower(): name for name in METHODS}
