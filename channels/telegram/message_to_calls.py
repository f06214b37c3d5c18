"""Operator messages → Bot API calls (no I/O): captions, albums, splitting, keyboards, replies.

An operator message becomes a list of ``Part``s, each one Bot API call, in the order they must
go out: the media (grouped into albums where Telegram allows), then the text when it could not
ride along as a caption. A part builds its method on demand so that a media URL Telegram refused
to fetch can be swapped for an upload of the same file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from aiogram.methods import (
    SendAudio,
    SendDocument,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    SendSticker,
    SendVideo,
    SendVoice,
    TelegramMethod,
)
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    ReplyParameters,
)

from bridge.messages import AttachmentKind, Button, OutboundAttachment, OutboundMessage
from channels.telegram.ids import make_callback_data, parse_message_id

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ALBUM_MAX = 10
EMPTY_TEXT = "(empty message)"
# An album cannot carry a keyboard, so the buttons follow it in a message of their own; Telegram
# wants some text there, and this one points back at the album in any language.
KEYBOARD_TEXT = "⬆️"

# Which kinds may share an album: photos with videos, documents and audio only with their own
# kind; voice notes and stickers never go into one.
_ALBUM_FAMILY = {
    AttachmentKind.PICTURE: "visual",
    AttachmentKind.VIDEO: "visual",
    AttachmentKind.FILE: "document",
    AttachmentKind.AUDIO: "audio",
}
_MEDIA_METHODS: dict[AttachmentKind, tuple[type[TelegramMethod[Any]], str]] = {
    AttachmentKind.PICTURE: (SendPhoto, "photo"),
    AttachmentKind.FILE: (SendDocument, "document"),
    AttachmentKind.VIDEO: (SendVideo, "video"),
    AttachmentKind.VOICE: (SendVoice, "voice"),
    AttachmentKind.AUDIO: (SendAudio, "audio"),
    AttachmentKind.STICKER: (SendSticker, "sticker"),
}
_INPUT_MEDIA = {
    AttachmentKind.PICTURE: InputMediaPhoto,
    AttachmentKind.VIDEO: InputMediaVideo,
    AttachmentKind.FILE: InputMediaDocument,
    AttachmentKind.AUDIO: InputMediaAudio,
}


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


# -- buttons ----------------------------------------------------------------------------------


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=b.text, url=b.url)
                if b.url
                else InlineKeyboardButton(text=b.text, callback_data=make_callback_data(b.text))
                for b in row
            ]
            for row in rows
        ]
    )


# -- parts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    """One Bot API call of an operator message.

    ``first`` is the index of ``attachments[0]`` among the message's attachments, so that the
    channel can tell which messenger message carries which attachment.
    """

    chat_id: int
    attachments: tuple[OutboundAttachment, ...] = ()
    first: int = 0
    text: str = ""  # the message text, or the caption of the (first) media
    markup: InlineKeyboardMarkup | None = None
    reply_to: int | None = None

    @property
    def indexes(self) -> range:
        return range(self.first, self.first + len(self.attachments))

    def method(self, files: Mapping[str, InputFile] | None = None) -> TelegramMethod[Any]:
        """The call; ``files`` (keyed by URL) replace the URLs Telegram would not fetch."""
        files = files or {}
        common: dict[str, Any] = {"chat_id": self.chat_id}
        if self.reply_to is not None:
            # Never fail a message because the quoted one was deleted meanwhile.
            common["reply_parameters"] = ReplyParameters(
                message_id=self.reply_to, allow_sending_without_reply=True
            )
        if not self.attachments:
            return SendMessage(**common, text=self.text, reply_markup=self.markup)
        if len(self.attachments) == 1:
            attachment = self.attachments[0]
            method, field = _MEDIA_METHODS[attachment.kind]
            if self.text and attachment.kind is not AttachmentKind.STICKER:
                common["caption"] = self.text
            common[field] = files.get(attachment.url, attachment.url)
            return method(**common, reply_markup=self.markup)  # type: ignore[call-arg]
        return SendMediaGroup(
            **common,
            media=[
                _INPUT_MEDIA[a.kind](media=files.get(a.url, a.url), caption=caption)
                for a, caption in zip(self.attachments, self._captions(), strict=True)
            ],
        )

    def _captions(self) -> list[str | None]:
        """An album shows the caption of its first item as the album's caption."""
        rest: list[str | None] = [None] * (len(self.attachments) - 1)
        return [self.text or None, *rest]


def _albums(
    attachments: tuple[OutboundAttachment, ...],
) -> list[tuple[int, tuple[OutboundAttachment, ...]]]:
    """Consecutive attachments that may share an album, as (index of the first, items)."""
    groups: list[tuple[int, list[OutboundAttachment]]] = []
    for index, attachment in enumerate(attachments):
        family = _ALBUM_FAMILY.get(attachment.kind)
        if groups:
            start, items = groups[-1]
            if (
                family is not None
                and _ALBUM_FAMILY.get(items[-1].kind) == family
                and len(items) < ALBUM_MAX
            ):
                items.append(attachment)
                continue
        groups.append((index, [attachment]))
    return [(start, tuple(items)) for start, items in groups]


def to_parts(chat_id: int, message: OutboundMessage) -> list[Part]:
    """The Bot API calls that carry one operator message, in the order they must go out."""
    text = message.text or ""
    markup = keyboard(message.buttons)
    groups = _albums(message.attachments)
    ends_in_album = bool(groups) and len(groups[-1][1]) > 1
    needs_keyboard_message = markup is not None and ends_in_album
    caption = ""
    # The text rides on the first media as its caption when it fits, unless it must carry the
    # keyboard after an album; otherwise it follows the media as messages of its own.
    if groups and text and utf16_len(text) <= CAPTION_LIMIT and not needs_keyboard_message:
        caption, text = text, ""
    parts = [
        Part(chat_id, items, first, caption if n == 0 else "")
        for n, (first, items) in enumerate(groups)
    ]
    if text:
        parts.extend(Part(chat_id, text=piece) for piece in split_text(text))
    elif needs_keyboard_message or not parts:
        parts.append(Part(chat_id, text=KEYBOARD_TEXT if needs_keyboard_message else EMPTY_TEXT))
    if markup is not None:
        parts[-1] = replace(parts[-1], markup=markup)
    if message.reply_to:
        try:
            _, reply_id = parse_message_id(message.reply_to)
        except ValueError:
            reply_id = None  # the quoted "message" was a button press: nothing to point at
        parts[0] = replace(parts[0], reply_to=reply_id)
    return parts
