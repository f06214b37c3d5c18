"""AmojoClient against the Chats API emulator over HTTP: signed calls, typed errors, no retries."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bridge.amojo import (
    AmojoClient,
    AmojoRateLimitedError,
    AmojoRejectedError,
    AmojoTransientError,
    AmojoUnavailableError,
)
from bridge.amojo.client import MAX_RETRY_AFTER
from bridge.amojo.models import EditedMessage, GeoPoint, MessageContent, NewMessage, Participant
from emulators.amojo.app import AmojoEmulator
from emulators.loopback import LoopbackServer

ACCOUNT = "52e591f7-c98f-4255-8495-827210138c81"


@dataclass
class Rig:
    emulator: AmojoEmulator
    client: AmojoClient
    url: str
    channel_id: str
    secret: str


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    channel_id, secret = str(uuid.uuid4()), uuid.uuid4().hex + "12345678"
    emulator = AmojoEmulator(channel_id=channel_id, channel_secret=secret)
    async with LoopbackServer(emulator.app) as server:
        client = AmojoClient.create(server.url, channel_id, secret, timeout=1.0)
        try:
            yield Rig(emulator, client, server.url, channel_id, secret)
        finally:
            await client.aclose()
            await emulator.aclose()


def payload(msgid: str, text: str = "hi", **content: Any) -> NewMessage:
    now = time.time()
    return NewMessage(
        timestamp=int(now),
        msec_timestamp=int(now * 1000),
        msgid=msgid,
        conversation_id="conv-1",
        silent=False,
        sender=Participant(id="user-1", name="Anna"),
        message=MessageContent(type="text", text=text, **content),
    )


async def test_every_typed_method_is_accepted(rig: Rig) -> None:
    answer = await rig.client.connect(ACCOUNT, "Shop")
    scope = answer["scope_id"]
    assert scope == f"{rig.channel_id}_{ACCOUNT}"
    chat = await rig.client.create_chat(scope, "conv-1", Participant(id="user-1", name="Anna"))
    sent = await rig.client.send_message(scope, payload("m-1"))
    assert sent.bridge_msgid == "m-1" and sent.amojo_msgid and sent.amojo_msgid != "m-1"
    new = payload("m-1", "edited")
    edit = EditedMessage(
        timestamp=new.timestamp,
        msec_timestamp=new.msec_timestamp,
        msgid="m-1",
        conversation_id="conv-1",
        message=new.message,
    )
    await rig.client.edit_message(scope, edit)
    await rig.client.send_typing(scope, "conv-1", "user-1")
    await rig.client.react(scope, "conv-1", "user-1", msgid="m-1", emoji="👍")
    history = await rig.client.history(scope, chat["id"])
    assert history[0]["message"]["client_id"] == "m-1" or history[0].get("client_id") == "m-1"
    hook_id, _ = rig.emulator.build_message_hook(scope, "conv-1", "operator answer")
    await rig.client.update_delivery_status(scope, hook_id, 1)
    await rig.client.update_delivery_status(scope, hook_id, -1, 901, "Bot was blocked")
    assert [s.body for s in rig.emulator.delivery_statuses] == [
        {"msgid": hook_id, "delivery_status": 1},
        {"msgid": hook_id, "delivery_status": -1, "error_code": 901, "error": "Bot was blocked"},
    ]
    await rig.client.disconnect(ACCOUNT)
    assert rig.emulator.rejected == []


async def test_5xx_is_transient_and_keeps_status_and_body(rig: Rig) -> None:
    rig.emulator.fail_next(1, status=503)
    with pytest.raises(AmojoTransientError) as caught:
        await rig.client.connect(ACCOUNT)
    assert caught.value.status_code == 503
    assert caught.value.body  # the page the server sent, kept for the log
    assert rig.emulator.faults_served == ["connect"]  # one request: the client never retries


async def test_429_is_rate_limited(rig: Rig) -> None:
    rig.emulator.fail_next(1, status=429)
    with pytest.raises(AmojoRateLimitedError) as caught:
        await rig.client.connect(ACCOUNT)
    assert caught.value.status_code == 429


async def test_wrong_secret_is_a_permanent_403_with_the_error_envelope(rig: Rig) -> None:
    wrong = AmojoClient.create(rig.url, rig.channel_id, "not-the-secret", timeout=1.0)
    try:
        with pytest.raises(AmojoRejectedError) as caught:
            await wrong.connect(ACCOUNT)
    finally:
        await wrong.aclose()
    assert caught.value.status_code == 403
    assert caught.value.error_type == "ORIGIN_INVALID_SIGNATURE"
    assert "invalid signature" in str(caught.value)


async def test_invalid_data_is_a_permanent_400_naming_the_problem(rig: Rig) -> None:
    scope = (await rig.client.connect(ACCOUNT))["scope_id"]
    # Well-typed (the models see to that) but out of range: a latitude past the pole.
    bad = payload("m-2").model_copy(
        update={"message": MessageContent(type="location", location=GeoPoint(lon=0, lat=200))}
    )
    with pytest.raises(AmojoRejectedError) as caught:
        await rig.client.send_message(scope, bad)
    assert caught.value.status_code == 400
    assert "lat" in (caught.value.description or "")


async def test_no_answer_becomes_unavailable(rig: Rig) -> None:
    rig.emulator.hang_next(1, kinds={"connect"})
    with pytest.raises(AmojoUnavailableError, match="in time"):
        await rig.client.connect(ACCOUNT)


def _peer_answering_429(retry_after: str) -> httpx.AsyncClient:
    """A peer that only ever answers 429 with this Retry-After (an ASGI app, in process)."""

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [(b"retry-after", retry_after.encode("latin-1"))],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://peer")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("86400", MAX_RETRY_AFTER),  # capped: one header must not park a job for a day
        ("1e308", MAX_RETRY_AFTER),
        ("nan", None),
        ("inf", None),
        ("-inf", None),
        ("-5", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("", None),
    ],
)
async def test_retry_after_is_taken_only_when_finite_and_is_capped(
    header: str, expected: float | None
) -> None:
    http = _peer_answering_429(header)
    client = AmojoClient(http, "channel")
    try:
        with pytest.raises(AmojoRateLimitedError) as caught:
            await client.connect(ACCOUNT)
    finally:
        await client.aclose()
    assert caught.value.retry_after == expected
