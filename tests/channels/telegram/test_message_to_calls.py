"""Operator messages → Bot API calls: albums, captions, keyboards and replies, without I/O."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendDocument, SendMediaGroup, SendMessage, SendPhoto, SendVoice
from aiogram.types import BufferedInputFile, InputMediaPhoto

from bridge.ids import ExternalMessageId
from bridge.messages import AttachmentKind, Button, OutboundAttachment, OutboundMessage
from channels.telegram.ids import make_callback_data, make_press_id, parse_callback_data
from channels.telegram.message_to_calls import (
    KEYBOARD_TEXT,
    split_text,
    to_parts,
    utf16_len,
)
from channels.telegram.uploads import upload_name, url_refused

CHAT = 77


def media(kind: AttachmentKind, n: int = 0, name: str = "") -> OutboundAttachment:
    return OutboundAttachment(kind, f"https://amojo.example/files/{kind.value}{n}", name)


def methods(message: OutboundMessage) -> list[str]:
    return [type(part.method()).__name__ for part in to_parts(CHAT, message)]


def test_split_text_prefers_paragraphs_then_words_and_counts_utf16() -> None:
    text = "a" * 3000 + "\n\n" + "b" * 3000
    assert split_text(text) == ["a" * 3000, "b" * 3000]
    words = " ".join(["word"] * 2000)  # 9999 characters, no paragraphs
    pieces = split_text(words)
    assert all(utf16_len(p) <= 4096 and not p.endswith(" ") for p in pieces)
    assert " ".join(pieces) == words
    emoji = "😀" * 3000  # 6000 UTF-16 units
    assert [utf16_len(p) for p in split_text(emoji)] == [4096, 1904]


def test_caption_rides_on_the_media_or_follows_it() -> None:
    short = OutboundMessage(text="look", attachments=(media(AttachmentKind.PICTURE),))
    [photo] = to_parts(CHAT, short)
    method = photo.method()
    assert isinstance(method, SendPhoto) and method.caption == "look"
    long = OutboundMessage(text="x" * 1025, attachments=(media(AttachmentKind.PICTURE),))
    first, second = (part.method() for part in to_parts(CHAT, long))
    assert isinstance(first, SendPhoto) and first.caption is None
    assert isinstance(second, SendMessage) and second.text == "x" * 1025


def test_albums_group_what_telegram_allows() -> None:
    pictures = tuple(media(AttachmentKind.PICTURE, n) for n in range(12))
    assert methods(OutboundMessage(attachments=pictures)) == ["SendMediaGroup"] * 2
    first, rest = to_parts(CHAT, OutboundMessage(attachments=pictures))
    assert (list(first.indexes), list(rest.indexes)) == (list(range(10)), [10, 11])
    mixed = (
        media(AttachmentKind.PICTURE),
        media(AttachmentKind.VIDEO),
        media(AttachmentKind.FILE),
        media(AttachmentKind.FILE, 1),
        media(AttachmentKind.VOICE),
        media(AttachmentKind.VOICE, 1),
    )
    # Photos with videos, documents among themselves, voice notes never.
    assert methods(OutboundMessage(attachments=mixed)) == [
        "SendMediaGroup",
        "SendMediaGroup",
        "SendVoice",
        "SendVoice",
    ]


def test_album_caption_goes_on_its_first_item() -> None:
    two = (media(AttachmentKind.PICTURE), media(AttachmentKind.PICTURE, 1))
    [album] = to_parts(CHAT, OutboundMessage(text="both", attachments=two))
    method = album.method()
    assert isinstance(method, SendMediaGroup)
    assert [item.caption for item in method.media] == ["both", None]


def test_buttons_after_an_album_come_in_a_message_of_their_own() -> None:
    two = (media(AttachmentKind.PICTURE), media(AttachmentKind.PICTURE, 1))
    buttons = ((Button("Yes"), Button("Site", "https://shop.example")),)
    with_text = to_parts(CHAT, OutboundMessage(text="Pick", attachments=two, buttons=buttons))
    without = to_parts(CHAT, OutboundMessage(attachments=two, buttons=buttons))
    assert [p.text for p in with_text] == ["", "Pick"]  # the text carries the keyboard
    assert [p.text for p in without] == ["", KEYBOARD_TEXT]
    keyboard = with_text[-1].method()
    assert isinstance(keyboard, SendMessage) and keyboard.reply_markup is not None
    yes, site = keyboard.reply_markup.inline_keyboard[0]  # type: ignore[union-attr]
    assert (yes.callback_data, site.url) == ("t:Yes", "https://shop.example")
    single = to_parts(CHAT, OutboundMessage(attachments=two[:1], buttons=buttons))
    assert len(single) == 1 and single[0].markup is not None  # one photo can carry it


def test_reply_goes_on_the_first_part_and_not_to_a_button_press() -> None:
    message = OutboundMessage(
        text="y" * 5000, reply_to=ExternalMessageId(f"{CHAT}:12"), buttons=((Button("Ok"),),)
    )
    first, second = to_parts(CHAT, message)
    assert (first.reply_to, second.reply_to) == (12, None)
    assert (first.markup, second.markup is not None) == (None, True)
    method = first.method()
    assert method.reply_parameters is not None  # type: ignore[attr-defined]
    assert method.reply_parameters.allow_sending_without_reply  # type: ignore[attr-defined]
    pressed = OutboundMessage(text="ok", reply_to=make_press_id(CHAT, "q1"))
    assert to_parts(CHAT, pressed)[0].reply_to is None


def test_files_replace_refused_urls() -> None:
    voice, doc = media(AttachmentKind.VOICE), media(AttachmentKind.FILE, name="terms.pdf")
    upload = BufferedInputFile(b"OggS", "voice.ogg")
    [voice_part] = to_parts(CHAT, OutboundMessage(attachments=(voice,)))
    by_url, by_file = voice_part.method(), voice_part.method({voice.url: upload})
    assert isinstance(by_url, SendVoice) and by_url.voice == voice.url
    assert isinstance(by_file, SendVoice) and by_file.voice is upload
    two = (doc, media(AttachmentKind.FILE, 1))
    [album] = to_parts(CHAT, OutboundMessage(attachments=two))
    method = album.method({doc.url: upload})
    assert isinstance(method, SendMediaGroup)
    assert [item.media for item in method.media] == [upload, two[1].url]
    [single] = to_parts(CHAT, OutboundMessage(attachments=(doc,)))
    assert isinstance(single.method(), SendDocument)
    assert not isinstance(method.media[0], InputMediaPhoto)


def test_upload_names_and_refusals() -> None:
    assert upload_name(media(AttachmentKind.FILE, name="Прайс.xlsx")) == "Прайс.xlsx"
    assert upload_name(OutboundAttachment(AttachmentKind.FILE, "https://h/a/b%20c.pdf?x=1")) == (
        "b c.pdf"
    )
    assert upload_name(OutboundAttachment(AttachmentKind.VOICE, "https://h/get?id=1")) == (
        "voice.ogg"
    )
    method = SendMessage(chat_id=CHAT, text="x")
    refused = TelegramBadRequest(method, "Bad Request: wrong type of the web page content")
    blocked = TelegramBadRequest(method, "Bad Request: chat not found")
    assert url_refused(refused) and not url_refused(blocked)


def test_callback_data_fits_64_bytes_and_reads_back() -> None:
    short, long = "Да", "Ж" * 40
    assert parse_callback_data(make_callback_data(short)) == "Да"
    assert len(make_callback_data(long).encode()) <= 64
    assert parse_callback_data(make_callback_data(long)) == ""  # a digest: read the keyboard
