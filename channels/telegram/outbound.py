"""Operator messages → aiogram method objects (no I/O here): splitting, keyboards, replies."""

from __future__ import annotations

import hashlib

from aiogram.methods import (
    SendAudio,
    SendDocument,
    SendMessage,
    SendPhoto,
    SendSticker,
    SendVideo,
    SendVoice,
    TelegramMethod,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters

from bridge.messages import AttachmentKind, Button, OutboundAttachment, OutboundMessage
from channels.telegram.ids import parse_message_id

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_LIMIT = 64  # bytes


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` UTF-16 units, cut at a paragraph, line or word if possible."""
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        window = _prefix_within(rest, limit)
        cut = -1
        for separator in ("\n\n", "\n", " "):
            position = window.rfind(separator)
            if position > len(window) // 4:
                cut = position + len(separator)
                break
        if cut <= 0:
            cut = len(window)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return [piece for piece in pieces if piece] or [""]


def _prefix_within(text: str, limit: int) -> str:
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def callback_data(button: Button) -> str:
    """Telegram allows 64 bytes; longer texts go by a digest (a press reads the text back)."""
    raw = f"t:{button.text}"
    if len(raw.encode()) <= CALLBACK_LIMIT:
        return raw
    return "h:" + hashlib.sha256(button.text.encode()).hexdigest()[:40]


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=b.text, url=b.url)
                if b.url
                else InlineKeyboardButton(text=b.text, callback_data=callback_data(b))
                for b in row
            ]
            for row in rows
        ]
    )


_MEDIA_METHODS: dict[AttachmentKind, tuple[type[TelegramMethod[object]], str]] = {
    AttachmentKind.PICTURE: (SendPhoto, "photo"),  # type: ignore[dict-item]
    AttachmentKind.FILE: (SendDocument, "document"),  # type: ignore[dict-item]
    AttachmentKind.VIDEO: (SendVideo, "video"),  # type: ignore[dict-item]
    AttachmentKind.VOICE: (SendVoice, "voice"),  # type: ignore[dict-item]
    AttachmentKind.AUDIO: (SendAudio, "audio"),  # type: ignore[dict-item]
    AttachmentKind.STICKER: (SendSticker, "sticker"),  # type: ignore[dict-item]
}


def media_method(
    chat_id: int, attachment: OutboundAttachment, caption: str | None, file: object | None = None
) -> TelegramMethod[object]:
    """The send method for one attachment; ``file`` (an upload) replaces the URL when given."""
    method, field = _MEDIA_METHODS[attachment.kind]
    params: dict[str, object] = {
        "chat_id": chat_id,
        field: file if file is not None else attachment.url,
    }
    if caption and attachment.kind is not AttachmentKind.STICKER:
        params["caption"] = caption
    return method(**params)


def to_methods(chat_id: int, message: OutboundMessage) -> list[TelegramMethod[object]]:
    """The Bot API calls that carry one operator message, in the order they must go out."""
    methods: list[TelegramMethod[object]] = []
    text = message.text or ""
    caption: str | None = None
    for attachment in message.attachments:
        # A caption rides on the media when it fits; otherwise it follows as its own message.
        if caption is None and text and utf16_len(text) <= CAPTION_LIMIT:
            caption, text = text, ""
        methods.append(media_method(chat_id, attachment, caption))
        caption = ""
    if text:
        methods.extend(SendMessage(chat_id=chat_id, text=piece) for piece in split_text(text))
    if not methods:
        methods.append(SendMessage(chat_id=chat_id, text="(empty message)"))
    markup = keyboard(message.buttons)
    if markup is not None:
        methods[-1] = methods[-1].model_copy(update={"reply_markup": markup})
    if message.reply_to:
        _, reply_id = parse_message_id(message.reply_to)
        methods[0] = methods[0].model_copy(
            update={
                "reply_parameters": ReplyParameters(
                    message_id=reply_id, allow_sending_without_reply=True
                )
            }
        )
    return methods
