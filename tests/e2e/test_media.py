"""Customers' files reach amoCRM through signed, expiring /media links that never carry a token."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest

from bridge.ids import MediaRef
from bridge.messages import Attachment, AttachmentKind
from emulators.amojo.records import MessageRecord
from emulators.samples import jpeg, ogg_opus, pdf
from tests.e2e.conftest import CUSTOMER, TOKEN, Connected

# -- helpers ------------------------------------------------------------------------------------


async def customer_sends(connected: Connected, **fields: Any) -> MessageRecord:
    """The customer sends one Telegram message; returns what the Chats API received."""
    amojo = connected.amojo
    before = len(amojo.messages)
    connected.telegram.user_sends(TOKEN, CUSTOMER, **fields)
    await amojo.wait_for(lambda: len(amojo.messages) > before)
    assert amojo.rejected == []
    return amojo.messages[before]


async def fetch(url: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as http:
        return await http.get(url)


def assert_no_token(text: str) -> None:
    secret = TOKEN.split(":", 1)[1]
    assert TOKEN not in text
    assert secret not in text


# -- tests ----------------------------------------------------------------------------------------


async def test_photo_link_serves_the_largest_size_with_type_and_name(
    connected: Connected,
) -> None:
    picture = jpeg(320, 240)
    record = connected.telegram.add_file(TOKEN, picture, mime_type="image/jpeg")
    received = await customer_sends(connected, photo=record, caption="Is this one in stock?")
    message = received.message
    assert message["type"] == "picture"
    assert message["text"] == "Is this one in stock?"
    assert message["file_size"] == len(picture)
    assert message["file_name"].endswith(".jpg")
    assert message["media"].startswith(f"{connected.bridge.bridge_url}/media/")
    response = await fetch(message["media"])
    assert response.status_code == 200
    assert response.content == picture  # the full photo, not the 90-pixel preview before it
    assert response.headers["content-type"] == "image/jpeg"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert message["file_name"] in disposition


async def test_voice_and_document_bytes_types_and_names(connected: Connected) -> None:
    voice_bytes, pdf_bytes = ogg_opus(), pdf()
    voice = connected.telegram.add_file(TOKEN, voice_bytes, mime_type="audio/ogg")
    document = connected.telegram.store_file(
        connected.telegram.bot(TOKEN),
        pdf_bytes,
        kind="document",
        file_name="Счёт №7.pdf",
        mime_type="application/pdf",
    )
    voice_message = (await customer_sends(connected, voice=voice)).message
    file_message = (await customer_sends(connected, document=document)).message
    assert file_message["file_name"] == "Счёт №7.pdf"
    voice_file, pdf_file = await fetch(voice_message["media"]), await fetch(file_message["media"])
    assert (voice_file.content, voice_file.headers["content-type"]) == (voice_bytes, "audio/ogg")
    assert (pdf_file.content, pdf_file.headers["content-type"]) == (pdf_bytes, "application/pdf")
    # The exact name in UTF-8, and a plain-ASCII stand-in for clients that cannot read it.
    disposition = pdf_file.headers["content-disposition"]
    assert "filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82%20%E2%84%967.pdf" in disposition
    assert 'filename="' in disposition


async def test_no_token_in_any_link_request_or_log(
    connected: Connected, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    record = connected.telegram.add_file(TOKEN, jpeg(), mime_type="image/jpeg")
    received = await customer_sends(connected, photo=record)
    assert (await fetch(received.message["media"])).status_code == 200
    connected.telegram.files.pop(record.file_id)  # gone on Telegram's side: the link fails
    failed = await fetch(received.message["media"])
    assert failed.status_code == 404
    for sent in connected.amojo.messages:
        assert_no_token(json.dumps(sent.payload, ensure_ascii=False))
    assert_no_token(failed.text)
    assert "media not available" in caplog.text  # the failure was logged, without the token
    assert_no_token(caplog.text)


async def test_tampered_link_is_403_and_expired_link_is_410(connected: Connected) -> None:
    record = connected.telegram.add_file(TOKEN, jpeg(), mime_type="image/jpeg")
    link = (await customer_sends(connected, photo=record)).message["media"]
    payload, _, mac = link.rpartition("/")[2].partition(".")
    base = link.rpartition("/")[0]
    forged_mac = f"{base}/{payload}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
    forged_claims = f"{base}/{payload[:-2]}{'xy' if payload[-2:] != 'xy' else 'zz'}.{mac}"
    for url in (forged_mac, forged_claims):
        response = await fetch(url)
        assert response.status_code == 403, url
        assert response.content != record.content
    week_ago = time.time() - 8 * 24 * 3600
    attachment = Attachment(
        AttachmentKind.PICTURE, MediaRef(record.file_id), "old.jpg", len(record.content)
    )
    stale = connected.bridge.container.media.url_for(
        connected.connection.id, attachment, now=week_ago
    )
    expired = await fetch(stale)
    assert expired.status_code == 410
    assert expired.content != record.content


async def test_link_with_non_ascii_characters_is_403_not_a_crash(connected: Connected) -> None:
    record = connected.telegram.add_file(TOKEN, jpeg(), mime_type="image/jpeg")
    link = (await customer_sends(connected, photo=record)).message["media"]
    base, _, token = link.rpartition("/")
    payload, _, mac = token.partition(".")
    for forged in (f"{payload}.{mac[:-1]}é", f"{payload}.ключ", f"{payload[:-1]}ж.{mac}", "ж.ж"):
        response = await fetch(f"{base}/{forged}")
        assert response.status_code == 403, forged
        assert response.json() == {"error": "invalid link"}


async def test_file_over_the_download_limit_becomes_a_notice(connected: Connected) -> None:
    size = 25 * 1024 * 1024
    document = {
        "file_id": "BQACAgIAAxkBAAIBigZz-too-big",
        "file_unique_id": "AgADbig",
        "file_name": "catalogue.zip",
        "mime_type": "application/zip",
        "file_size": size,
    }
    received = await customer_sends(connected, document=document, caption="our catalogue")
    message = received.message
    assert message["type"] == "text"
    assert "media" not in message
    assert "catalogue.zip" in message["text"]
    assert "25.0 MB" in message["text"]
    assert "could not be fetched" in message["text"]
    assert message["text"].endswith("our catalogue")  # the caption is kept
