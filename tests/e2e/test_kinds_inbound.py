"""Every kind of customer message, Telegram update → Chats API message, over real HTTP.

One test per row of issue #5's customer → amoCRM table. The Chats API emulator validates each
request strictly; ``rejected`` must stay empty.
"""

from __future__ import annotations

from typing import Any

from emulators.amojo.records import MessageRecord
from emulators.samples import jpeg, ogg_opus, pdf
from tests.e2e.conftest import BOT_ID, CUSTOMER, TOKEN, Connected
from tests.e2e.test_media import customer_sends, fetch


def msgid(message_id: int) -> str:
    return f"telegram-{BOT_ID}-{CUSTOMER}:{message_id}"


async def operator_answers(connected: Connected, text: str) -> tuple[str, int]:
    """The operator replies; returns the reply's amoCRM id and its Telegram message id."""
    telegram = connected.telegram
    before = len(telegram.sent_to(CUSTOMER))
    answer = await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), text
    )
    await telegram.wait_for(lambda: len(telegram.sent_to(CUSTOMER)) > before)
    return answer.id, telegram.sent_to(CUSTOMER)[before].message_id


async def relayed(connected: Connected, count: int) -> list[MessageRecord]:
    amojo = connected.amojo
    await amojo.wait_for(lambda: len(amojo.messages) >= count)
    assert amojo.rejected == []
    return amojo.messages[:count]


async def test_text_entities_are_flattened_and_links_kept(connected: Connected) -> None:
    text = "🛒 See our shop and the sale at https://example.com/sale today"
    entities = [
        {"type": "bold", "offset": 3, "length": 3},
        # Offsets count UTF-16 units: the cart emoji before it takes two.
        {"type": "text_link", "offset": 7, "length": 8, "url": "https://shop.example.com/"},
        {"type": "url", "offset": 31, "length": 25},
    ]
    received = await customer_sends(connected, text=text, entities=entities)
    assert received.message == {
        "type": "text",
        "text": "🛒 See our shop (https://shop.example.com/) and the sale at "
        "https://example.com/sale today",
    }


async def test_document_keeps_its_name_size_and_caption(connected: Connected) -> None:
    telegram = connected.telegram
    content = pdf()
    document = telegram.store_file(
        telegram.bot(TOKEN), content, kind="document", file_name="price list.pdf",
        mime_type="application/pdf",
    )  # fmt: skip
    message = (await customer_sends(connected, document=document, caption="prices")).message
    assert (message["type"], message["file_name"], message["file_size"], message["text"]) == (
        "file",
        "price list.pdf",
        len(content),
        "prices",
    )
    assert (await fetch(message["media"])).content == content


async def test_video_video_note_and_animation_become_videos(connected: Connected) -> None:
    telegram = connected.telegram
    clip = telegram.add_file(TOKEN, b"\x00\x00\x00\x18ftypmp42 clip", mime_type="video/mp4")
    note = telegram.add_file(TOKEN, b"\x00\x00\x00\x18ftypmp42 note", mime_type="video/mp4")
    gif = telegram.add_file(TOKEN, b"\x00\x00\x00\x18ftypmp42 gif", mime_type="video/mp4")
    await customer_sends(connected, video=telegram.file_object("video", clip, {"duration": 12}))
    await customer_sends(connected, video_note=telegram.file_object("video_note", note))
    # Telegram sends an animation together with a document copy of it.
    await customer_sends(
        connected,
        animation=telegram.file_object("animation", gif),
        document=telegram.file_object("document", gif),
    )
    video, round_video, animation = (m.message for m in await relayed(connected, 3))
    assert [m["type"] for m in (video, round_video, animation)] == ["video"] * 3
    assert video["media_duration"] == 12
    assert all(m["file_name"].endswith(".mp4") for m in (video, round_video, animation))
    assert (await fetch(animation["media"])).content == gif.content


async def test_voice_carries_its_duration(connected: Connected) -> None:
    telegram = connected.telegram
    voice = telegram.add_file(TOKEN, ogg_opus(), mime_type="audio/ogg")
    message = (
        await customer_sends(
            connected, voice=telegram.file_object("voice", voice, {"duration": 7})
        )
    ).message
    assert message["type"] == "voice"
    assert message["media_duration"] == 7
    assert isinstance(message["file_size"], int)


async def test_audio_is_named_from_performer_and_title(connected: Connected) -> None:
    telegram = connected.telegram
    track = telegram.add_file(TOKEN, b"ID3 track", mime_type="audio/mpeg")
    audio = {**telegram.file_object("audio", track, {"duration": 200}), "title": "Jingle"}
    audio |= {"performer": "Shop Band"}
    message = (await customer_sends(connected, audio=audio)).message
    assert message["type"] == "audio"
    assert message["file_name"] == "Shop Band - Jingle.mp3"
    assert message["media_duration"] == 200


async def test_sticker_shows_its_emoji_as_text(connected: Connected) -> None:
    telegram = connected.telegram
    webp = telegram.add_file(TOKEN, b"RIFF\x00\x00\x00\x00WEBPVP8 ", mime_type="image/webp")
    sticker = {**telegram.file_object("sticker", webp), "emoji": "😂"}
    message = (await customer_sends(connected, sticker=sticker)).message
    assert message["type"] == "sticker"
    assert message["text"] == "😂"
    assert message["sticker_id"] == webp.file_unique_id
    response = await fetch(message["media"])
    assert response.headers["content-type"] == "image/webp"


async def test_location_and_venue_become_locations(connected: Connected) -> None:
    point = {"latitude": 55.751244, "longitude": 37.618423}
    await customer_sends(connected, location=point)
    venue = {"location": point, "title": "Red Square", "address": "Moscow"}
    await customer_sends(connected, location=point, venue=venue)
    place, shop = (m.message for m in await relayed(connected, 2))
    assert place["type"] == shop["type"] == "location"
    assert place["location"] == {"lon": 37.618423, "lat": 55.751244}
    assert all(isinstance(v, float) for v in place["location"].values())
    assert shop["text"] == "Red Square, Moscow"


async def test_contact_carries_name_and_phone(connected: Connected) -> None:
    card = {"phone_number": "+79151112233", "first_name": "Ivan", "last_name": "Petrov"}
    message = (await customer_sends(connected, contact=card)).message
    assert message["type"] == "contact"
    assert message["contact"] == {"name": "Ivan Petrov", "phone": "+79151112233"}


async def test_media_group_is_one_message_per_item_in_order(connected: Connected) -> None:
    telegram = connected.telegram
    pictures = [jpeg(100 + n, 80) for n in range(3)]
    records = [telegram.add_file(TOKEN, p, mime_type="image/jpeg") for p in pictures]
    for n, record in enumerate(records):
        caption = "Which of these?" if n == 0 else None
        telegram.user_sends(TOKEN, CUSTOMER, photo=record, caption=caption, media_group_id="77")
    items = await relayed(connected, 3)
    assert [m.message["type"] for m in items] == ["picture"] * 3
    assert [m.message["text"] for m in items] == ["Which of these?", "", ""]
    assert [(await fetch(m.message["media"])).content for m in items] == pictures
    assert len({m.msgid for m in items}) == 3


async def test_edit_updates_the_same_msgid(connected: Connected) -> None:
    telegram, amojo = connected.telegram, connected.amojo
    sent = telegram.user_sends_text(TOKEN, CUSTOMER, "I want 3 boxes")
    photo = telegram.add_file(TOKEN, jpeg(), mime_type="image/jpeg")
    shot = telegram.user_sends(TOKEN, CUSTOMER, photo=photo, caption="this one")
    original, picture = await relayed(connected, 2)
    telegram.user_edits(TOKEN, CUSTOMER, sent["message_id"], "I want 4 boxes")
    await amojo.wait_for(lambda: len(amojo.edits) == 1)
    edited = {**shot, "caption": "this one, in blue", "edit_date": shot["date"] + 5}
    telegram.push_update(TOKEN, {"edited_message": edited})
    await amojo.wait_for(lambda: len(amojo.edits) == 2)
    assert amojo.rejected == []
    text_edit, caption_edit = amojo.edits
    assert text_edit.msgid == original.msgid == msgid(sent["message_id"])
    assert text_edit.amojo_id == original.amojo_id
    assert text_edit.payload["message"] == {"type": "text", "text": "I want 4 boxes"}
    assert caption_edit.msgid == picture.msgid
    assert caption_edit.payload["message"]["type"] == "picture"  # still a picture
    assert amojo.messages[1].message["text"] == "this one, in blue"
    assert len(amojo.messages) == 2  # edits add no messages


async def test_reply_points_at_the_quoted_message_on_either_side(connected: Connected) -> None:
    telegram = connected.telegram
    first = telegram.user_sends_text(TOKEN, CUSTOMER, "Do you have it in red?")
    await relayed(connected, 1)
    answer, bot_message_id = await operator_answers(connected, "Yes, in red and blue.")
    telegram.user_sends_text(TOKEN, CUSTOMER, "Red, please", reply_to_message_id=bot_message_id)
    telegram.user_sends_text(TOKEN, CUSTOMER, "(that)", reply_to_message_id=first["message_id"])
    _, to_operator, to_self = await relayed(connected, 3)
    # The operator's message is known to amoCRM by its own id, the customer's by our msgid.
    assert to_operator.payload["reply_to"] == {"message": {"id": answer}}
    assert to_self.payload["reply_to"] == {"message": {"msgid": msgid(first["message_id"])}}


async def test_reply_to_a_message_amocrm_never_got_is_sent_without_quote(
    connected: Connected,
) -> None:
    telegram = connected.telegram
    chat = telegram.chat(telegram.bot(TOKEN), CUSTOMER, create=True)
    assert chat is not None
    # A message in the chat that never reached the bridge (written before it was connected).
    earlier = telegram.new_message(chat, telegram.users[CUSTOMER], text="from last year")
    telegram.user_sends_text(TOKEN, CUSTOMER, "so?", reply_to_message_id=earlier["message_id"])
    [reply] = await relayed(connected, 1)
    assert "reply_to" not in reply.payload
    assert reply.message["text"] == "so?"


async def test_forward_names_the_original_sender(connected: Connected) -> None:
    telegram = connected.telegram
    author = telegram.add_user(6001, "Olga", "Smirnova", "olga_s")
    written = 1_700_000_000
    origin_user = {"type": "user", "date": written, "sender_user": author}
    origin_hidden = {"type": "hidden_user", "date": written, "sender_user_name": "Secret Fan"}
    await customer_sends(connected, text="Is this offer real?", forward_origin=origin_user)
    await customer_sends(connected, text="and this one", forward_origin=origin_hidden)
    shown, hidden = await relayed(connected, 2)
    assert shown.message == {"type": "text", "text": "Is this offer real?"}
    [forwarded] = shown.payload["forwards"]["messages"]
    assert forwarded == {
        "type": "text",
        "text": "Is this offer real?",
        "timestamp": written,
        "msec_timestamp": written * 1000,
        "sender": {"name": "Olga Smirnova"},
    }
    assert hidden.payload["forwards"]["messages"][0]["sender"] == {"name": "Secret Fan"}


async def test_reactions_reach_the_right_message(connected: Connected) -> None:
    telegram, amojo = connected.telegram, connected.amojo
    # The bridge must have polled once (asking for reactions) before the customer reacts.
    mine = telegram.user_sends_text(TOKEN, CUSTOMER, "Thanks!")
    await relayed(connected, 1)
    answer, bot_message = await operator_answers(connected, "You're welcome")
    telegram.user_reacts(TOKEN, CUSTOMER, bot_message, "👍")
    await amojo.wait_for(lambda: len(amojo.reactions) == 1)
    telegram.user_reacts(TOKEN, CUSTOMER, bot_message, None)
    await amojo.wait_for(lambda: len(amojo.reactions) == 2)
    telegram.user_reacts(TOKEN, CUSTOMER, mine["message_id"], "❤")
    await amojo.wait_for(lambda: len(amojo.reactions) == 3)
    assert amojo.rejected == []
    react, unreact, own = (r["body"] for r in amojo.reactions)
    sender = f"telegram-{BOT_ID}-user-{CUSTOMER}"
    assert react == {
        "conversation_id": connected.conversation_id(),
        "user": {"id": sender},
        "type": "react",
        "id": answer,
        "emoji": "👍",
    }
    assert (unreact["type"], unreact["id"], "emoji" in unreact) == ("unreact", answer, False)
    assert (own["type"], own["msgid"], own["emoji"]) == ("react", msgid(mine["message_id"]), "❤")
    assert amojo.reactions[0]["amojo_id"] == answer


def _poll() -> dict[str, Any]:
    options = [
        {"persistent_id": str(n), "text": text, "voter_count": 0}
        for n, text in enumerate(("Tomorrow", "Next week"))
    ]
    return {
        "id": "5001", "question": "When can you deliver?", "options": options,
        "total_voter_count": 0, "is_closed": False, "is_anonymous": False, "type": "regular",
        "allows_multiple_answers": False, "allows_revoting": False, "members_only": False,
    }  # fmt: skip


async def test_other_kinds_become_readable_text(connected: Connected) -> None:
    shop_chat = {"id": -100123, "type": "channel", "title": "Shop News"}
    kinds: list[dict[str, Any]] = [
        {"poll": _poll()},
        {"dice": {"emoji": "🎲", "value": 4}},
        {"game": {"title": "Lucky Wheel", "description": "spin", "photo": []}},
        {"story": {"chat": shop_chat, "id": 12}},
        {"hologram": {"id": 1}},  # a kind from some future Bot API version
    ]
    for fields in kinds:
        await customer_sends(connected, **fields)
    texts = [m.message["text"] for m in await relayed(connected, len(kinds))]
    assert texts[:4] == [
        "[poll] When can you deliver? — Tomorrow / Next week",
        "[dice] 🎲 4",
        "[game] Lucky Wheel",
        "[story] The customer shared a story from Shop News",
    ]
    assert texts[4].startswith("[unsupported]")
    assert all(m.message["type"] == "text" for m in connected.amojo.messages)
