"""Every kind of operator message, Chats API hook → Telegram, over real HTTP, with its status.

One test per item of issue #5's operator → customer list. Operator files are served by a small
loopback file server standing in for amoCRM's file host; the Bot API emulator fetches from it
as Telegram would (and refuses what Telegram refuses).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import Response
from rich.console import Console

from bridge.sandbox.harness import run_sandbox
from emulators.loopback import LoopbackServer
from emulators.samples import jpeg, ogg_opus, pdf
from emulators.telegram.records import SentMessage
from tests.e2e.conftest import CUSTOMER, TOKEN, Connected

PHOTO, VOICE, PDF = jpeg(), ogg_opus(), pdf()
SHEET = b"PK\x03\x04 spreadsheet bytes"
FILES: dict[str, tuple[bytes, str]] = {
    "photo.jpg": (PHOTO, "image/jpeg"),
    "photo2.jpg": (jpeg(200, 100), "image/jpeg"),
    "photo3.jpg": (jpeg(100, 200), "image/jpeg"),
    "clip.mp4": (b"\x00\x00\x00\x18ftypmp42 operator clip", "video/mp4"),
    "terms.pdf": (PDF, "application/pdf"),
    "voice.ogg": (VOICE, "audio/ogg"),
    "song.mp3": (b"ID3 operator song", "audio/mpeg"),
    "sticker.webp": (b"RIFF\x00\x00\x00\x00WEBPVP8 sticker", "image/webp"),
    # Telegram fetches only PDF, ZIP and GIF documents by URL: this one must be uploaded.
    "prices.xlsx": (SHEET, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "huge.jpg": (jpeg() + b"\x00" * (11 * 1024 * 1024), "image/jpeg"),
}


@pytest.fixture
async def files() -> AsyncIterator[str]:
    """amoCRM's file host: serves FILES by name, 404 for anything else."""
    app = FastAPI()

    @app.get("/files/{name}")
    async def serve(name: str) -> Response:
        if name not in FILES:
            return Response(status_code=404)
        content, mime = FILES[name]
        return Response(content, media_type=mime)

    async with LoopbackServer(app) as server:
        yield f"{server.url}/files"


async def operator_sends(connected: Connected, text: str = "", **fields: Any) -> str:
    """The operator sends one message; returns amoCRM's id of it."""
    sent = await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), text, **fields
    )
    assert sent.status == 200
    return sent.id


async def statuses(connected: Connected, count: int) -> list[dict[str, Any]]:
    amojo = connected.amojo
    await amojo.wait_for(lambda: len(amojo.delivery_statuses) >= count)
    assert amojo.rejected == []
    return [s.body for s in amojo.delivery_statuses]


async def customer_got(connected: Connected, count: int) -> list[SentMessage]:
    telegram = connected.telegram
    await telegram.wait_for(lambda: len(telegram.sent_to(CUSTOMER)) >= count)
    return telegram.sent_to(CUSTOMER)


def file_bytes(connected: Connected, message: dict[str, Any], kind: str) -> bytes:
    media = message[kind]
    file_id = media[-1]["file_id"] if isinstance(media, list) else media["file_id"]
    return connected.telegram.files[file_id].content


def delivered(amojo_id: str) -> dict[str, Any]:
    return {"msgid": amojo_id, "delivery_status": 1}


async def test_long_text_is_split_at_paragraphs_in_order(connected: Connected) -> None:
    await connected.customer_writes("Hi")
    paragraphs = [f"Paragraph {n}: " + "word " * 350 for n in range(5)]  # ~1770 chars each
    text = "\n\n".join(p.strip() for p in paragraphs)
    amojo_id = await operator_sends(connected, text)
    assert await statuses(connected, 1) == [delivered(amojo_id)]
    pieces = [m.params["text"] for m in connected.telegram.sent_to(CUSTOMER)]
    assert len(pieces) == 3
    assert all(len(piece) <= 4096 for piece in pieces)
    assert all(piece.startswith("Paragraph") for piece in pieces)  # cut between paragraphs
    assert "\n\n".join(pieces) == text


async def test_each_media_kind_goes_out_by_its_own_method(
    connected: Connected, files: str
) -> None:
    await connected.customer_writes("Hi")
    kinds = [
        ("picture", "photo.jpg", "sendPhoto", "photo"),
        ("video", "clip.mp4", "sendVideo", "video"),
        ("file", "terms.pdf", "sendDocument", "document"),
        ("voice", "voice.ogg", "sendVoice", "voice"),
        ("audio", "song.mp3", "sendAudio", "audio"),
        ("sticker", "sticker.webp", "sendSticker", "sticker"),
    ]
    ids = []
    for kind, name, _, _ in kinds:
        content = FILES[name][0]
        ids.append(
            await operator_sends(
                connected,
                f"here is the {kind}",
                type=kind,
                media=f"{files}/{name}",
                file_name=name,
                file_size=len(content),
            )
        )
    assert await statuses(connected, len(kinds)) == [delivered(i) for i in ids]
    sent = connected.telegram.sent_to(CUSTOMER)
    assert [m.method for m in sent] == [method for _, _, method, _ in kinds]
    for message, (kind, name, _, field) in zip(sent, kinds, strict=True):
        assert file_bytes(connected, message.message, field) == FILES[name][0]
        # A sticker has no caption in Telegram; the others carry the operator's text.
        assert message.message.get("caption") == (
            None if kind == "sticker" else f"here is the {kind}"
        )


async def test_caption_past_1024_characters_follows_as_a_message(
    connected: Connected, files: str
) -> None:
    await connected.customer_writes("Hi")
    text = "Details: " + "x" * 1100
    amojo_id = await operator_sends(
        connected, text, type="picture", media=f"{files}/photo.jpg", file_name="photo.jpg",
        file_size=len(PHOTO),
    )  # fmt: skip
    assert await statuses(connected, 1) == [delivered(amojo_id)]
    photo, follow_up = connected.telegram.sent_to(CUSTOMER)
    assert (photo.method, "caption" in photo.message) == ("sendPhoto", False)
    assert (follow_up.method, follow_up.params["text"]) == ("sendMessage", text)


async def test_refused_url_is_downloaded_and_uploaded(connected: Connected, files: str) -> None:
    await connected.customer_writes("Hi")
    amojo_id = await operator_sends(
        connected, "our prices", type="file", media=f"{files}/prices.xlsx",
        file_name="Prices 2025.xlsx", file_size=len(SHEET),
    )  # fmt: skip
    assert await statuses(connected, 1) == [delivered(amojo_id)]
    calls = [c for c in connected.telegram.calls if c.method == "sendDocument"]
    assert [c.status for c in calls] == [400, 200]
    assert "wrong type of the web page content" in (calls[0].description or "")
    [sent] = connected.telegram.sent_to(CUSTOMER)
    assert file_bytes(connected, sent.message, "document") == SHEET
    assert sent.message["document"]["file_name"] == "Prices 2025.xlsx"
    assert sent.message["caption"] == "our prices"


async def test_album_hooks_arriving_together_go_out_as_one_album(
    connected: Connected, files: str
) -> None:
    await connected.customer_writes("Hi")
    names = ["photo.jpg", "photo2.jpg", "photo3.jpg"]
    ids = [
        await operator_sends(
            connected,
            "Our three colours" if n == 0 else "",
            type="picture",
            media=f"{files}/{name}",
            file_name=name,
            file_size=len(FILES[name][0]),
            media_group_id="album-1",
        )  # fmt: skip
        for n, name in enumerate(names)
    ]
    reports = await statuses(connected, 3)
    assert sorted(r["msgid"] for r in reports) == sorted(ids)
    assert all(r["delivery_status"] == 1 for r in reports)
    sent = connected.telegram.sent_to(CUSTOMER)
    assert [m.method for m in sent] == ["sendMediaGroup"] * 3  # one call, three messages
    assert len({m.message["media_group_id"] for m in sent}) == 1
    assert [file_bytes(connected, m.message, "photo") for m in sent] == [
        FILES[n][0] for n in names
    ]
    assert [m.message.get("caption") for m in sent] == ["Our three colours", None, None]
    # Each hook is linked to its own Telegram message: a reply to the third photo quotes the
    # third amoCRM message.
    connected.telegram.user_sends_text(
        TOKEN, CUSTOMER, "this one", reply_to_message_id=sent[2].message_id
    )
    amojo = connected.amojo
    await amojo.wait_for(lambda: len(amojo.messages) == 2)
    assert amojo.messages[1].payload["reply_to"] == {"message": {"id": ids[2]}}


async def test_buttons_open_links_or_come_back_as_text(connected: Connected) -> None:
    telegram, amojo = connected.telegram, connected.amojo
    await connected.customer_writes("Hi")
    link_markup = {
        "mode": "inline",
        "buttons": [[{"text": "Open the catalogue", "url": "https://shop.example.com/c"}]],
    }
    long_choice = "Deliver to the pickup point at the central station, please (the big one)"
    text_markup = {
        "mode": "inline",
        "buttons": [[{"text": "Yes"}, {"text": "No"}], [{"text": long_choice}]],
    }
    await operator_sends(connected, "Have a look", markup=link_markup)
    question = await operator_sends(connected, "Shall we deliver?", markup=text_markup)
    await statuses(connected, 2)
    catalogue, ask = telegram.sent_to(CUSTOMER)
    [[url_button]] = catalogue.message["reply_markup"]["inline_keyboard"]
    assert url_button == {"text": "Open the catalogue", "url": "https://shop.example.com/c"}
    rows = ask.message["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == [["Yes", "No"], [long_choice]]
    assert all("callback_data" in b and "url" not in b for row in rows for b in row)
    telegram.user_presses_button(TOKEN, CUSTOMER, ask.message_id, rows[0][0]["callback_data"])
    # Over 64 bytes, the button's data is a digest; the press still brings back its text.
    telegram.user_presses_button(TOKEN, CUSTOMER, ask.message_id, rows[1][0]["callback_data"])
    await amojo.wait_for(lambda: len(amojo.messages) == 3)
    assert amojo.rejected == []
    yes, chosen = amojo.messages[1:]
    assert yes.message == {"type": "text", "text": "Yes"}
    assert chosen.message == {"type": "text", "text": long_choice}
    assert yes.payload["reply_to"] == {"message": {"id": question}}
    assert yes.msgid != chosen.msgid
    await telegram.wait_for(lambda: len(telegram.callback_answers) == 2)  # no spinner left


async def test_operator_reply_quotes_the_right_telegram_message(connected: Connected) -> None:
    telegram, amojo = connected.telegram, connected.amojo
    question = telegram.user_sends_text(TOKEN, CUSTOMER, "Where is my order?")
    await amojo.wait_for(lambda: len(amojo.messages) == 1)
    customer_message = amojo.messages[0].amojo_id
    first = await operator_sends(connected, "Checking…", reply_to=customer_message)
    await operator_sends(connected, "It left the warehouse", reply_to=first)
    await statuses(connected, 2)
    checking, update = telegram.sent_to(CUSTOMER)
    assert checking.params["reply_parameters"]["message_id"] == question["message_id"]
    assert checking.message["reply_to_message"]["message_id"] == question["message_id"]
    assert update.message["reply_to_message"]["message_id"] == checking.message_id


async def test_typing_hook_shows_typing(connected: Connected) -> None:
    telegram = connected.telegram
    await connected.customer_writes("Hi")
    status = await connected.amojo.send_typing_hook(
        connected.scope_id, connected.conversation_id()
    )
    assert status == 200
    await telegram.wait_for(lambda: len(telegram.chat_actions) == 1)
    assert [(a["chat_id"], a["action"]) for a in telegram.chat_actions] == [(CUSTOMER, "typing")]


async def test_reaction_hook_sets_the_reaction_or_skips_a_foreign_emoji(
    connected: Connected, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="channels.telegram")
    telegram, amojo = connected.telegram, connected.amojo
    sent = telegram.user_sends_text(TOKEN, CUSTOMER, "Great, thanks!")
    await amojo.wait_for(lambda: len(amojo.messages) == 1)
    target = amojo.messages[0].amojo_id
    scope, conversation = connected.scope_id, connected.conversation_id()
    # A heart as keyboards type it (with U+FE0F); Telegram lists it without.
    assert await amojo.send_reaction_hook(scope, conversation, target, "❤️") == 200
    assert await amojo.send_reaction_hook(scope, conversation, target, "🫶") == 200
    assert await amojo.send_reaction_hook(scope, conversation, target, None, "unreact") == 200
    # Hooks of one chat run in order: once the removal is out, the middle one was handled.
    await telegram.wait_for(lambda: len(telegram.reactions_set) == 2)
    assert "not one Telegram allows" in caplog.text  # 🫶 is not in Telegram's list: skipped
    heart, removed = telegram.reactions_set
    assert (heart["message_id"], heart["reaction"]) == (
        sent["message_id"],
        [{"type": "emoji", "emoji": "❤"}],
    )
    assert removed["reaction"] == []


async def test_failures_are_reported_with_code_and_reason(
    connected: Connected, files: str
) -> None:
    telegram = connected.telegram
    await connected.customer_writes("Hi")
    telegram.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found")
    gone = await operator_sends(connected, "Hello?")
    missing = await operator_sends(
        connected, type="file", media=f"{files}/nothing-here.pdf", file_name="a.pdf",
        file_size=1,
    )  # fmt: skip
    huge = await operator_sends(
        connected, type="picture", media=f"{files}/huge.jpg", file_name="huge.jpg",
        file_size=len(FILES["huge.jpg"][0]),
    )  # fmt: skip
    reports = {r["msgid"]: r for r in await statuses(connected, 3)}
    assert reports[gone]["delivery_status"] == -1
    assert reports[gone]["error_code"] == 904
    assert "chat not found" in reports[gone]["error"].lower()
    assert (reports[missing]["error_code"], reports[huge]["error_code"]) == (905, 905)
    assert "HTTP 404" in reports[missing]["error"]
    assert "too big" in reports[huge]["error"]
    assert files not in reports[missing]["error"]  # the link itself is not shown
    assert telegram.sent_to(CUSTOMER) == []


async def test_sandbox_shows_a_photo_a_voice_note_an_edit_and_buttons() -> None:
    console = Console(record=True, width=240, color_system=None)
    assert await run_sandbox(console) == 0
    transcript = console.export_text()
    for expected in (
        "received a picture photo_",
        "image/jpeg, identical",
        "received a voice voice_",
        "audio/ogg, identical",
        "now reads 'Hello! Do you deliver on Sundays and holidays?'",
        "[Order for Sunday] [Ask something else] [Delivery zones ↗]",
        "delivery status 1",
        "presses [Order for Sunday]",
        "received 'Order for Sunday' from Anna Petrova",
        "queued=0 failed=0",
    ):
        assert expected in transcript, transcript
