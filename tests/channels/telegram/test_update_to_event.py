"""Telegram updates → inbound events: the conversions the end-to-end tests do not reach."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import CallbackQuery, Message, MessageReactionUpdated

from bridge.ids import ConnectionId
from bridge.messages import AttachmentKind
from channels.telegram.ids import make_callback_data, make_press_id, parse_message_id
from channels.telegram.update_to_event import (
    UnsupportedUpdateError,
    button_press_to_inbound,
    flatten_text,
    to_edit,
    to_inbound,
    to_reaction,
)

CONNECTION = ConnectionId("c1")
USER = {"id": 77, "is_bot": False, "first_name": "Anna"}
CHAT = {"id": 77, "type": "private", "first_name": "Anna"}


def message(**fields: Any) -> Message:
    return Message.model_validate(
        {"message_id": 5, "date": 1_700_000_000, "chat": CHAT, "from": USER} | fields
    )


def file(unique: str, size: int = 100, **extra: Any) -> dict[str, Any]:
    return {"file_id": f"id-{unique}", "file_unique_id": unique, "file_size": size} | extra


def test_largest_photo_is_taken_whatever_the_order() -> None:
    sizes = [
        file("big", 9000, width=1280, height=960),
        file("small", 900, width=90, height=68),
        file("mid", 4000, width=640, height=480),
    ]
    [picture] = to_inbound(CONNECTION, message(photo=sizes, caption="look")).attachments
    assert (picture.kind, picture.ref, picture.file_size) == (
        AttachmentKind.PICTURE,
        "id-big",
        9000,
    )
    assert picture.mime_type == "image/jpeg"


def test_animation_wins_over_its_document_copy() -> None:
    gif = file(
        "gif", duration=3, width=320, height=240, file_name="fun.mp4", mime_type="video/mp4"
    )
    event = to_inbound(
        CONNECTION, message(animation=gif, document=file("gif", file_name="fun.mp4"))
    )
    [video] = event.attachments
    assert (video.kind, video.file_name, video.duration) == (AttachmentKind.VIDEO, "fun.mp4", 3)


@pytest.mark.parametrize(
    ("flags", "name", "mime"),
    [
        ({}, "sticker_s.webp", "image/webp"),
        ({"is_animated": True}, "sticker_s.tgs", "application/x-tgsticker"),
        ({"is_video": True}, "sticker_s.webm", "video/webm"),
    ],
)
def test_sticker_formats(flags: dict[str, bool], name: str, mime: str) -> None:
    shape = {"type": "regular", "width": 512, "height": 512, "is_animated": False}
    shape |= {"is_video": False, "emoji": "🙂"} | flags
    event = to_inbound(CONNECTION, message(sticker=file("s", **shape)))
    [sticker] = event.attachments
    assert (sticker.file_name, sticker.mime_type, sticker.sticker_id) == (name, mime, "s")
    assert event.text == "🙂"


def test_audio_name_comes_from_the_file_then_performer_and_title() -> None:
    named = to_inbound(CONNECTION, message(audio=file("a", duration=5, file_name="x.m4a")))
    titled = to_inbound(
        CONNECTION, message(audio=file("b", duration=5, title="Song", mime_type="audio/mpeg"))
    )
    bare = to_inbound(CONNECTION, message(audio=file("c", duration=5)))
    assert named.attachments[0].file_name == "x.m4a"
    assert titled.attachments[0].file_name == "Song.mp3"
    assert bare.attachments[0].file_name == "audio_c.mp3"


def test_file_over_20_mb_becomes_a_notice_with_name_and_size() -> None:
    big = file("big", 21 * 1024 * 1024, file_name="video.mov")
    event = to_inbound(CONNECTION, message(document=big, caption="see"))
    assert event.attachments == ()
    assert event.text is not None
    assert event.text.startswith("[file] The customer sent video.mov (21.0 MB)")
    assert event.text.endswith("\nsee")


def test_venue_title_and_address_become_the_location_title() -> None:
    point = {"latitude": 1.5, "longitude": 2.5}
    venue = {"location": point, "title": "Cafe", "address": "Main st 1"}
    event = to_inbound(CONNECTION, message(location=point, venue=venue))
    assert event.location is not None
    assert (event.location.lat, event.location.lon, event.location.title) == (
        1.5,
        2.5,
        "Cafe, Main st 1",
    )


def test_text_links_keep_their_url_with_utf16_offsets() -> None:
    text = "😀 docs here"
    entities = [{"type": "text_link", "offset": 3, "length": 4, "url": "https://d.example"}]
    event = to_inbound(CONNECTION, message(text=text, entities=entities))
    assert event.text == "😀 docs (https://d.example) here"
    assert flatten_text("plain", None) == "plain"


def test_edit_of_a_caption_keeps_the_picture() -> None:
    edited = message(
        photo=[file("p", width=10, height=10)], caption="new", edit_date=1_700_000_100
    )
    event = to_edit(CONNECTION, edited)
    assert event.text == "new"
    assert [a.kind for a in event.attachments] == [AttachmentKind.PICTURE]
    assert event.revision == "1700000100"
    assert event.message == "77:5"


def reaction(new: list[dict[str, Any]]) -> MessageReactionUpdated:
    return MessageReactionUpdated.model_validate(
        {"chat": CHAT, "message_id": 5, "user": USER, "date": 1_700_000_000}
        | {"old_reaction": [], "new_reaction": new}
    )


def test_reactions_set_removed_or_not_showable() -> None:
    added = to_reaction(CONNECTION, 10, reaction([{"type": "emoji", "emoji": "👍"}]))
    removed = to_reaction(CONNECTION, 11, reaction([]))
    custom = to_reaction(
        CONNECTION, 12, reaction([{"type": "custom_emoji", "custom_emoji_id": "9"}])
    )
    assert added is not None and (added.emoji, added.message) == ("👍", "77:5")
    assert removed is not None and removed.emoji is None  # an unreact
    assert custom is None  # amoCRM has no emoji for it; not a removal either


def press(data: str, markup: dict[str, Any] | None) -> CallbackQuery:
    carrier = {"message_id": 9, "date": 1_700_000_000, "chat": CHAT, "from": USER}
    if markup is not None:
        carrier["reply_markup"] = markup
    return CallbackQuery.model_validate(
        {"id": "q1", "from": USER, "chat_instance": "1", "data": data, "message": carrier}
    )


def test_button_press_brings_the_button_text_back() -> None:
    long_text = "A very long answer that cannot fit into sixty-four bytes of callback data"
    digest = make_callback_data(long_text)
    assert digest.startswith("h:")
    markup = {"inline_keyboard": [[{"text": long_text, "callback_data": digest}]]}
    from_markup = button_press_to_inbound(CONNECTION, press(digest, markup))
    from_data = button_press_to_inbound(CONNECTION, press("t:Yes", None))
    assert (from_markup.text, from_data.text) == (long_text, "Yes")
    assert from_data.reply_to == "77:9"  # quotes the message that carried the buttons
    assert from_data.message == make_press_id(77, "q1")
    with pytest.raises(UnsupportedUpdateError):
        button_press_to_inbound(CONNECTION, press(digest, None))  # text lost with the keyboard


def test_press_ids_are_not_message_ids() -> None:
    assert parse_message_id("77:5") == (77, 5)
    with pytest.raises(ValueError, match="not a Telegram message id"):
        parse_message_id(make_press_id(77, "123"))
