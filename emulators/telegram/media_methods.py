"""Bot API methods that carry files: sendPhoto and its kin, sendMediaGroup, getFile.

An InputFile may come as an upload, an ``attach://`` part, a URL the emulator fetches (loopback
only) or a file_id of a file this bot has; each is checked against Telegram's size and type
limits and stored in ``EmulatorState``.
"""

from __future__ import annotations

import mimetypes
import secrets
from typing import Any

from emulators.telegram.call import Call, Handler, replied_message, send_from_bot, target_chat
from emulators.telegram.markup import prepare_text
from emulators.telegram.records import FileRecord
from emulators.telegram.rules import ApiError, Upload, bad_request, check_photo, check_reply_markup

# The cloud server's limits; local-mode servers lift them, which the emulator does not model.
PHOTO_UPLOAD_LIMIT = 10 * 1024 * 1024
FILE_UPLOAD_LIMIT = 50 * 1024 * 1024
PHOTO_URL_LIMIT = 5 * 1024 * 1024
FILE_URL_LIMIT = 20 * 1024 * 1024
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


def send_media(kind: str) -> Handler:
    async def handler(call: Call) -> Any:
        params = call.params
        chat = target_chat(call)
        caption_entities: list[dict[str, Any]]
        caption, caption_entities = "", []  # stickers and video notes carry no caption
        if kind not in NO_CAPTION:
            caption, caption_entities = prepare_text(
                params.get("caption"),
                params.get("parse_mode"),
                params.get("caption_entities"),
                caption=True,
            )
        markup = check_reply_markup(params.get("reply_markup"))
        reply_to = replied_message(call, chat)
        record = await _input_file(call, kind, params.get(kind))
        return send_from_bot(
            call,
            chat,
            reply_to_message=reply_to,
            caption=caption,
            caption_entities=caption_entities,
            reply_markup=markup,
            **{kind: call.state.file_object(kind, record, params)},
        )

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
    chat = target_chat(call)
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
    reply_to = replied_message(call, chat)
    records = [
        await _input_file(call, kind, m.get("media")) for kind, m in zip(kinds, media, strict=True)
    ]
    group_id = str(secrets.randbits(60))
    messages = []
    for index, (kind, item, record, (caption, entities)) in enumerate(
        zip(kinds, media, records, captions, strict=True)
    ):
        message = send_from_bot(
            call,
            chat,
            reply_to_message=reply_to if index == 0 else None,
            media_group_id=group_id,
            caption=caption,
            caption_entities=entities,
            **{kind: call.state.file_object(kind, record, item)},
        )
        messages.append(message)
    return messages


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
