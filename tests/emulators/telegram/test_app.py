"""The Telegram emulator, driven by the real aiogram client over loopback HTTP.

Each test asserts what aiogram actually raises or returns, so the emulator is held to the wire
behaviour the bridge's Telegram adapter will meet in production.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    ReactionTypeEmoji,
    ReplyParameters,
)
from fastapi import FastAPI, Request
from fastapi.responses import Response

from emulators.loopback import LoopbackServer
from emulators.telegram.app import TelegramEmulator

TOKEN = "42:TEST-secret-part"
USER = 1001


def png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size; the emulator reads its header like Telegram would."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def make_bot(url: str, token: str = TOKEN) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))


@pytest.fixture
async def emu() -> TelegramEmulator:
    emulator = TelegramEmulator(webhook_retry_base=0.01)
    emulator.add_bot(TOKEN, "test_bot")
    emulator.add_user(USER, "Ann", username="ann")
    return emulator


@pytest.fixture
async def url(emu: TelegramEmulator) -> AsyncIterator[str]:
    async with LoopbackServer(emu.app) as server:
        yield server.url
        # Before the server stops: uvicorn waits for in-flight requests, held ones included.
        await emu.aclose()


@pytest.fixture
async def bot(url: str) -> AsyncIterator[Bot]:
    client = make_bot(url)
    yield client
    await client.session.close()


# --- identity and HTTP surface -------------------------------------------------------------


async def test_get_me_returns_the_bot_user(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (42, True, "test_bot")


async def test_wrong_secret_part_of_token_is_unauthorized(emu: TelegramEmulator, url: str) -> None:
    impostor = make_bot(url, "42:TEST-wrong")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await impostor.get_me()
    finally:
        await impostor.session.close()
    assert emu.calls[-1].status == 401
    assert emu.calls[-1].bot_id == 42
    assert "TEST-wrong" not in repr(emu.calls)


async def test_call_log_never_holds_the_token(emu: TelegramEmulator, bot: Bot) -> None:
    await bot.get_me()
    assert [(c.method, c.status, c.token) for c in emu.calls] == [("getMe", 200, "42")]
    assert "secret-part" not in repr(emu.calls)


async def test_unknown_method_is_404_and_names_are_case_insensitive(
    emu: TelegramEmulator, url: str
) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    async with httpx.AsyncClient(base_url=f"{url}/bot{TOKEN}", trust_env=False) as http:
        missing = await http.post("/noSuchMethod")
        as_json = await http.post("/SENDMESSAGE", json={"chat_id": USER, "text": "json body"})
        by_get = await http.get("/getme")
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert as_json.json()["result"]["text"] == "json body"
    assert by_get.json()["result"]["username"] == "test_bot"
    assert [c.method for c in emu.calls] == ["noSuchMethod", "sendMessage", "getMe"]


# --- sending text ------------------------------------------------------------------------------


async def test_send_to_a_chat_the_user_never_opened_is_chat_not_found(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(USER, "hello")


async def test_send_message_replies_and_numbers_messages_per_chat(
    emu: TelegramEmulator, bot: Bot
) -> None:
    incoming = emu.user_sends_text(TOKEN, USER, "question")
    answer = await bot.send_message(
        USER, "answer", reply_parameters=ReplyParameters(message_id=incoming["message_id"])
    )
    assert answer.message_id == incoming["message_id"] + 1
    assert answer.from_user is not None and answer.from_user.is_bot
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "question"
    [sent] = emu.sent_to(USER)
    assert (sent.method, sent.message_id, sent.params["text"]) == ("sendMessage", 2, "answer")
    assert sent.token == TOKEN and TOKEN not in repr(sent)


async def test_reply_to_a_missing_message(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(USER, "x", reply_parameters=ReplyParameters(message_id=999))
    tolerant = ReplyParameters(message_id=999, allow_sending_without_reply=True)
    sent = await bot.send_message(USER, "x", reply_parameters=tolerant)
    assert sent.reply_to_message is None


async def test_text_length_is_counted_in_utf16_units(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(USER, "   \n ")
    await bot.send_message(USER, "\U0001f600" * 2048)  # 4096 UTF-16 units: the limit
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "\U0001f600" * 2048 + "a")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "a" * 4097)


async def test_parse_modes_reject_obvious_markup_errors(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Character '.'"):
        await bot.send_message(USER, "Price: 5.00", parse_mode="MarkdownV2")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER, "a <blink>b</blink>", parse_mode="HTML")
    markdown = await bot.send_message(USER, "*bold* 5\\.00", parse_mode="MarkdownV2")
    html = await bot.send_message(USER, "<b>bold</b> &lt;5&gt;", parse_mode="HTML")
    assert (markdown.text, html.text) == ("bold 5.00", "bold <5>")
    for message in (markdown, html):
        assert message.entities is not None
        assert [(e.type, e.offset, e.length) for e in message.entities] == [("bold", 0, 4)]


async def test_inline_keyboard_and_callback_answer(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    too_long = InlineKeyboardButton(text="x", callback_data="d" * 65)
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(
            USER, "pick", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[too_long]])
        )
    button = InlineKeyboardButton(text="Yes", callback_data="yes")
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[button]])
    message = await bot.send_message(USER, "pick", reply_markup=keyboard)
    assert message.reply_markup is not None
    assert message.reply_markup.inline_keyboard[0][0].callback_data == "yes"
    update = emu.user_presses_button(TOKEN, USER, message.message_id, "yes")
    [polled] = await bot.get_updates(offset=update["update_id"])
    assert polled.callback_query is not None and polled.callback_query.data == "yes"
    assert await bot.answer_callback_query(polled.callback_query.id, text="ok")
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(polled.callback_query.id)


async def test_edit_message_text(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    message = await bot.send_message(USER, "draft")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("draft", chat_id=USER, message_id=message.message_id)
    edited = await bot.edit_message_text("final", chat_id=USER, message_id=message.message_id)
    assert not isinstance(edited, bool)
    assert (edited.text, edited.edit_date is not None) == ("final", True)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=999)
    assert [s.method for s in emu.sent_to(USER)] == ["sendMessage", "editMessageText"]


# --- faults ------------------------------------------------------------------------------------


async def test_fail_next_gives_telegram_envelopes(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    emu.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 7",
        retry_after=7,
    )
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "one")
    assert caught.value.retry_after == 7
    emu.fail_next(
        None,
        error_code=400,
        description="Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=-1001234,
    )
    with pytest.raises(TelegramMigrateToChat) as migrated:
        await bot.send_message(USER, "two")
    assert migrated.value.migrate_to_chat_id == -1001234
    await bot.send_message(USER, "three")
    assert [s.params["text"] for s in emu.sent] == ["three"]
    assert [c.status for c in emu.calls] == [429, 400, 200]


async def test_blocked_user_is_forbidden(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    emu.block_user(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "still there?")
    updates = await bot.get_updates()
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"


async def test_html_502_page_is_not_json(emu: TelegramEmulator, bot: Bot) -> None:
    emu.fail_server_next("getMe")
    # aiogram cannot decode nginx's HTML page, so it raises ClientDecodeError rather than
    # TelegramServerError; the adapter has to treat that as transient.
    with pytest.raises(ClientDecodeError):
        await bot.get_me()
    assert emu.calls[-1].status == 502
    assert (await bot.get_me()).username == "test_bot"


async def test_hung_request_times_out_but_may_still_take_effect(
    emu: TelegramEmulator, bot: Bot
) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    emu.hang_next("sendMessage")
    with pytest.raises(TelegramNetworkError, match="Request timeout error"):
        await bot.send_message(USER, "lost?", request_timeout=1)
    assert emu.hanging == 1 and emu.sent == []
    emu.release_hung()
    await emu.wait_for(lambda: len(emu.sent) == 1, timeout=5)
    assert emu.sent[0].params["text"] == "lost?"


async def test_close_locks_the_bot_out(bot: Bot) -> None:
    assert await bot.close()
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.get_me()
    assert 590 <= caught.value.retry_after <= 600


async def test_wait_for_reports_what_happened(emu: TelegramEmulator, bot: Bot) -> None:
    await bot.get_me()
    with pytest.raises(TimeoutError, match=r"getMe->200"):
        await emu.wait_for(lambda: bool(emu.sent), timeout=0.05)


# --- getUpdates --------------------------------------------------------------------------------


async def test_get_updates_offset_confirms_and_forgets(emu: TelegramEmulator, bot: Bot) -> None:
    for text in "abcd":
        emu.user_sends_text(TOKEN, USER, text)
    ids = [u.update_id for u in await bot.get_updates()]
    assert ids == list(range(ids[0], ids[0] + 4))
    assert [u.update_id for u in await bot.get_updates()] == ids  # nothing confirmed yet
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert [u.update_id for u in await bot.get_updates()] == ids[1:]  # ids[0] is gone
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[3:]
    assert [u.update_id for u in await bot.get_updates()] == ids[
        3:
    ]  # the tail rule dropped the rest
    assert await bot.get_updates(offset=ids[3] + 1) == []
    emu.user_sends_text(TOKEN, USER, "e")
    [fresh] = await bot.get_updates()
    assert fresh.update_id == ids[3] + 1


async def test_get_updates_limit(emu: TelegramEmulator, bot: Bot) -> None:
    for text in "abc":
        emu.user_sends_text(TOKEN, USER, text)
    batch = await bot.get_updates(limit=2)
    assert [u.message.text for u in batch if u.message] == ["a", "b"]


async def test_long_poll_wakes_when_a_message_arrives(emu: TelegramEmulator, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    state = emu.bot(TOKEN)
    await emu.wait_for(lambda: state.poll_generation == 1)  # the poll is parked server-side
    assert not poll.done()
    emu.user_sends_text(TOKEN, USER, "wake up")
    [update] = await asyncio.wait_for(poll, timeout=5)
    assert update.message is not None and update.message.text == "wake up"
    assert loop.time() - started < 5


async def test_long_poll_ends_empty_after_its_timeout(bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.get_updates(timeout=1) == []
    assert loop.time() - started >= 0.9


async def test_abandoned_long_poll_ends_and_keeps_the_queue(
    emu: TelegramEmulator, bot: Bot
) -> None:
    with pytest.raises(TelegramNetworkError, match="Request timeout error"):
        await bot.get_updates(timeout=30, request_timeout=1)
    # The server side notices the client is gone and ends now, not 29 s later (which would
    # also hold up uvicorn's shutdown).
    await emu.wait_for(lambda: any(c.method == "getUpdates" for c in emu.calls), timeout=5)
    emu.user_sends_text(TOKEN, USER, "kept")
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.text == "kept"


async def test_second_poller_terminates_the_first(emu: TelegramEmulator, url: str) -> None:
    first_bot, second_bot = make_bot(url), make_bot(url)
    try:
        state = emu.bot(TOKEN)
        first = asyncio.create_task(first_bot.get_updates(timeout=30))
        await emu.wait_for(lambda: state.poll_generation == 1)
        second = asyncio.create_task(second_bot.get_updates(timeout=30))
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
            await asyncio.wait_for(first, timeout=5)
        emu.user_sends_text(TOKEN, USER, "for the survivor")
        [update] = await asyncio.wait_for(second, timeout=5)
        assert update.message is not None and update.message.text == "for the survivor"
    finally:
        await first_bot.session.close()
        await second_bot.session.close()


async def test_allowed_updates_decide_which_updates_exist(emu: TelegramEmulator, bot: Bot) -> None:
    message = emu.user_sends_text(TOKEN, USER, "hi")
    emu.user_reacts(TOKEN, USER, message["message_id"], "\U0001f44d")
    assert len(emu.dropped_updates) == 1  # reactions are off by default
    [first] = await bot.get_updates(allowed_updates=["message", "message_reaction"])
    emu.user_reacts(TOKEN, USER, message["message_id"], None)
    emu.user_edits(TOKEN, USER, message["message_id"], "hi!")  # edited_message not allowed now
    [reaction] = await bot.get_updates(offset=first.update_id + 1)
    assert reaction.message_reaction is not None
    assert reaction.message_reaction.new_reaction == []
    assert len(emu.dropped_updates) == 2


# --- webhook -----------------------------------------------------------------------------------


async def test_webhook_delivers_in_order_with_secret_and_retries(
    emu: TelegramEmulator, bot: Bot
) -> None:
    received: list[tuple[int, str | None]] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> Response:
        update = await request.json()
        received.append(
            (update["update_id"], request.headers.get("x-telegram-bot-api-secret-token"))
        )
        return Response(status_code=500 if len(received) == 1 else 200)

    async with LoopbackServer(receiver) as hook_server:
        with pytest.raises(TelegramBadRequest, match="bad webhook"):
            await bot.set_webhook(f"{hook_server.url}/hook", secret_token="not allowed!")
        assert await bot.set_webhook(f"{hook_server.url}/hook", secret_token="s3cret_-x")
        first = emu.user_sends_text(TOKEN, USER, "one")
        emu.user_sends_text(TOKEN, USER, "two")
        await emu.wait_for(lambda: len(emu.webhook_deliveries) == 3)
        info = await bot.get_webhook_info()
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        await bot.delete_webhook()
    ids = [d.update_id for d in emu.webhook_deliveries]
    assert [d.status for d in emu.webhook_deliveries] == [500, 200, 200]
    assert ids[0] == ids[1] and ids[2] == ids[1] + 1  # the failed update first, then the next
    assert received == [(i, "s3cret_-x") for i in ids]
    assert info.pending_update_count == 0
    assert info.last_error_message is not None and "500" in info.last_error_message
    assert first["text"] == "one"


async def test_webhook_keeps_retrying_an_unreachable_receiver(
    emu: TelegramEmulator, bot: Bot
) -> None:
    async with LoopbackServer(FastAPI()) as gone:
        dead_url = f"{gone.url}/hook"
    await bot.set_webhook(dead_url)
    emu.user_sends_text(TOKEN, USER, "anyone?")
    await emu.wait_for(lambda: len(emu.webhook_deliveries) >= 3)
    assert {d.status for d in emu.webhook_deliveries} == {None}
    assert len({d.update_id for d in emu.webhook_deliveries}) == 1
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1
    await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).pending_update_count == 0


# --- files -------------------------------------------------------------------------------------


async def test_photo_upload_then_download_gives_the_same_bytes(
    emu: TelegramEmulator, bot: Bot, url: str
) -> None:
    emu.user_sends_text(TOKEN, USER, "send me a picture")
    picture = png(400, 200)
    message = await bot.send_photo(USER, BufferedInputFile(picture, "pic.png"), caption="here")
    assert message.photo is not None and message.caption == "here"
    thumbnail, full = message.photo
    assert (full.width, full.height, full.file_size) == (400, 200, len(picture))
    assert thumbnail.width < full.width
    file = await bot.get_file(full.file_id)
    assert file.file_path is not None and file.file_size == len(picture)
    downloaded = await bot.download(full.file_id)
    assert downloaded is not None and downloaded.read() == picture
    wrong = await bot.download(thumbnail.file_id)
    assert wrong is not None and wrong.read() != picture
    async with httpx.AsyncClient(trust_env=False) as http:
        other_token = await http.get(f"{url}/file/bot42:nope/{file.file_path}")
        missing = await http.get(f"{url}/file/bot{TOKEN}/photos/none.jpg")
    assert (other_token.status_code, missing.status_code) == (401, 404)
    # The same file_id can be sent again without uploading.
    again = await bot.send_photo(USER, full.file_id)
    assert again.photo is not None and again.photo[-1].file_id == full.file_id


async def test_non_images_are_refused_as_photos(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER, BufferedInputFile(b"%PDF-1.4", "doc.pdf"))
    document = await bot.send_document(USER, BufferedInputFile(b"%PDF-1.4", "doc.pdf"))
    assert document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "doc.pdf",
        "application/pdf",
    )
    with pytest.raises(TelegramBadRequest, match="can't use file of type Document as Photo"):
        await bot.send_photo(USER, document.document.file_id)


async def test_caption_limit(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(USER, BufferedInputFile(png(10, 10), "p.png"), caption="c" * 1025)


async def test_send_photo_by_loopback_url(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    picture = png(64, 48)
    media = FastAPI()

    @media.get("/pic.png")
    async def pic() -> Response:
        return Response(picture, media_type="image/png")

    async with LoopbackServer(media) as media_server:
        message = await bot.send_photo(USER, f"{media_server.url}/pic.png")
        with pytest.raises(TelegramBadRequest, match="failed to get HTTP URL content"):
            await bot.send_photo(USER, f"{media_server.url}/missing.png")
    with pytest.raises(TelegramBadRequest, match="wrong HTTP URL specified"):
        await bot.send_photo(USER, "https://example.com/pic.png")
    assert message.photo is not None
    downloaded = await bot.download(message.photo[-1].file_id)
    assert downloaded is not None and downloaded.read() == picture


async def test_file_over_download_limit_is_too_big(emu: TelegramEmulator, bot: Bot) -> None:
    emu.download_limit = 1024
    small = emu.add_file(TOKEN, b"s" * 1024, mime_type="text/plain")
    big = emu.add_file(TOKEN, b"b" * 1025)
    assert (await bot.get_file(small.file_id)).file_path == small.file_path
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(big.file_id)
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("no-such-file")


async def test_photo_upload_over_10_mb_is_entity_too_large(
    emu: TelegramEmulator, bot: Bot
) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    oversized = png(10, 10) + b"\x00" * (10 * 1024 * 1024)
    with pytest.raises(TelegramEntityTooLarge):
        await bot.send_photo(USER, BufferedInputFile(oversized, "big.png"))


async def test_media_group_shares_a_group_id(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    items = [
        InputMediaPhoto(media=BufferedInputFile(png(20, 20 + i), f"{i}.png"), caption=str(i))
        for i in range(3)
    ]
    messages = await bot.send_media_group(USER, items)  # type: ignore[arg-type]
    assert len({m.media_group_id for m in messages}) == 1
    assert [m.caption for m in messages] == ["0", "1", "2"]
    assert len(emu.sent_to(USER)) == 3
    with pytest.raises(TelegramBadRequest):
        await bot.send_media_group(USER, items[:1])  # type: ignore[arg-type]


async def test_user_media_from_file_records(emu: TelegramEmulator, bot: Bot) -> None:
    voice = emu.add_file(TOKEN, b"OggS voice", mime_type="audio/ogg")
    message = emu.user_sends(TOKEN, USER, voice=voice, caption="listen")
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.voice is not None
    assert update.message.voice.file_id == voice.file_id == message["voice"]["file_id"]
    downloaded = await bot.download(update.message.voice)
    assert downloaded is not None and downloaded.read() == b"OggS voice"


# --- reactions and chat actions ----------------------------------------------------------------


async def test_reactions_must_be_in_telegrams_list(emu: TelegramEmulator, bot: Bot) -> None:
    message = emu.user_sends_text(TOKEN, USER, "hi")
    message_id = message["message_id"]
    assert await bot.set_message_reaction(USER, message_id, [ReactionTypeEmoji(emoji="\u2764")])
    with pytest.raises(TelegramBadRequest, match="REACTION_INVALID"):
        # The same heart with U+FE0F, as many keyboards type it, is not on the list.
        await bot.set_message_reaction(USER, message_id, [ReactionTypeEmoji(emoji="\u2764\ufe0f")])
    with pytest.raises(TelegramBadRequest, match="REACTION_INVALID"):
        await bot.set_message_reaction(USER, message_id, [ReactionTypeEmoji(emoji="\U0001f600")])
    with pytest.raises(TelegramBadRequest, match="message to react not found"):
        await bot.set_message_reaction(USER, 999, [ReactionTypeEmoji(emoji="\u2764")])
    assert [r["reaction"] for r in emu.reactions_set] == [[{"type": "emoji", "emoji": "\u2764"}]]


async def test_chat_action(emu: TelegramEmulator, bot: Bot) -> None:
    emu.user_sends_text(TOKEN, USER, "hi")
    assert await bot.send_chat_action(USER, "typing")
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(USER, "dancing")
    assert [(a["chat_id"], a["action"]) for a in emu.chat_actions] == [(USER, "typing")]
