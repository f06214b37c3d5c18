"""The Telegram webhook sub-app: addressed by bot id, checked by secret, bodies capped while
they stream, 200 only once the update is stored; its receiver reports its state."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from bridge.channel import ChannelConnection, ReceiverState
from bridge.ids import ConnectionId
from channels.telegram import TelegramChannel
from channels.telegram.webhook import MAX_UPDATE_BYTES
from emulators.loopback import LoopbackServer
from emulators.telegram.app import TelegramEmulator
from tests.channels.telegram.test_receiver import TOKEN, USER, RecordingSink, Rig, rig

SECRET_HEADER = {"X-Telegram-Bot-Api-Secret-Token": "webhook-secret_1"}
UPDATE = {
    "update_id": 5,
    "message": {
        "message_id": 7,
        "date": 1,
        "chat": {"id": USER, "type": "private"},
        "from": {"id": USER, "is_bot": False, "first_name": "Ivan"},
        "text": "hook",
    },
}


@pytest.fixture
async def hooked() -> AsyncIterator[Rig]:
    async for setup in rig(RecordingSink(), public_url="https://bridge.invalid"):
        yield setup


def route(setup: Rig) -> str:
    return f"{setup.url}/webhook/{TOKEN.split(':', maxsplit=1)[0]}"


async def test_a_stored_update_is_acknowledged_and_marks_the_receiver_alive(hooked: Rig) -> None:
    await hooked.telegram.wait_for(
        lambda: hooked.channel.receivers()[0].state is ReceiverState.RUNNING
    )
    [before] = hooked.channel.receivers()
    assert before.mode == "webhook" and before.last_ok is not None
    async with httpx.AsyncClient() as client:
        answer = await client.post(route(hooked), json=UPDATE, headers=SECRET_HEADER)
    assert answer.status_code == 200
    assert [e.text for e in hooked.sink.accepted] == ["hook"]  # type: ignore[union-attr]
    [after] = hooked.channel.receivers()
    assert after.last_ok is not None and after.last_ok >= before.last_ok


async def test_a_body_declared_too_big_is_refused_unread(hooked: Rig) -> None:
    body = json.dumps(UPDATE).encode() + b" " * MAX_UPDATE_BYTES
    async with httpx.AsyncClient() as client:
        answer = await client.post(route(hooked), content=body, headers=SECRET_HEADER)
    assert answer.status_code == 413
    assert hooked.sink.accepted == [] and hooked.sink.rejected == []


async def test_a_streamed_body_past_the_cap_is_refused(hooked: Rig) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(4 * MAX_UPDATE_BYTES // 65536):
            sent += 65536
            yield b" " * 65536

    async with httpx.AsyncClient() as client:
        try:
            answer = await client.post(route(hooked), content=chunks(), headers=SECRET_HEADER)
        except httpx.TransportError:
            pass  # the server answered and closed while the client was still sending
        else:
            assert answer.status_code == 413
    assert hooked.sink.accepted == [] and hooked.sink.rejected == []


async def test_a_wrong_secret_or_unknown_bot_is_refused(hooked: Rig) -> None:
    async with httpx.AsyncClient() as client:
        assert (await client.post(route(hooked), json=UPDATE)).status_code == 401
        other = f"{hooked.url}/webhook/123"
        answer = await client.post(other, json=UPDATE, headers=SECRET_HEADER)
        assert answer.status_code == 404
    assert hooked.sink.accepted == []


async def test_a_body_that_is_not_json_is_kept_as_rejected(hooked: Rig) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(route(hooked), content=b"<html>", headers=SECRET_HEADER)
    assert answer.status_code == 200
    [(raw, reason)] = hooked.sink.rejected
    assert raw == b"<html>" and "unreadable webhook update" in reason


async def test_the_webhook_is_set_again_until_telegram_takes_it() -> None:
    sink = RecordingSink()
    telegram = TelegramEmulator()
    telegram.add_bot(TOKEN, "hook_bot")
    async with LoopbackServer(telegram.app) as server:
        channel = TelegramChannel(server.url, poll_timeout=1)
        await channel.start(sink)
        try:
            telegram.fail_server_next("setWebhook", 2)
            await channel.add_connection(
                ChannelConnection(ConnectionId("c"), TOKEN, "s", "https://bridge.invalid")
            )
            await telegram.wait_for(
                lambda: channel.receivers()[0].state is ReceiverState.RUNNING, timeout=15
            )
            assert telegram.bots[TOKEN].webhook is not None
        finally:
            await channel.stop()
            await telegram.aclose()
