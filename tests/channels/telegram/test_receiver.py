"""The adapter acknowledges an update only after the sink stored it (polling and webhook mode).

Real aiogram against the Bot API emulator over HTTP; the sink is a small recording double of
the core's InboundSink (the only hand-written double: the relay itself is tested elsewhere).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bridge.channel import ChannelConnection
from bridge.ids import ConnectionId
from bridge.messages import InboundEvent, InboundMessage
from channels.telegram import TelegramChannel
from emulators.loopback import LoopbackServer
from emulators.telegram.app import TelegramEmulator

TOKEN = "777001:receiver-test-token-abcdefgh"
USER = 9001
CID = ConnectionId("c0nnecti0n")


@dataclass
class RecordingSink:
    failures: int = 0
    accepted: list[InboundEvent] = field(default_factory=list)
    rejected: list[tuple[bytes, str]] = field(default_factory=list)
    pending_at_attempt: list[int] = field(default_factory=list)
    bot: Any = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def accept(self, event: InboundEvent) -> None:
        self.pending_at_attempt.append(len(self.bot.updates) if self.bot else -1)
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("database is down")
        self.accepted.append(event)
        self.changed.set()

    async def reject(self, connection_id: ConnectionId, raw: bytes, reason: str) -> None:
        self.rejected.append((raw, reason))
        self.changed.set()

    async def wait(self, predicate: Any, timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@dataclass
class Rig:
    telegram: TelegramEmulator
    channel: TelegramChannel
    sink: RecordingSink
    url: str


async def rig(sink: RecordingSink, public_url: str | None = None) -> AsyncIterator[Rig]:
    telegram = TelegramEmulator()
    sink.bot = telegram.add_bot(TOKEN, "receiver_bot")
    telegram.add_user(USER, "Ivan")
    async with LoopbackServer(telegram.app) as server:
        channel = TelegramChannel(server.url, poll_timeout=2)
        await channel.start(sink)
        app_server = None
        if public_url is not None:
            # Updates are posted straight to the adapter's route below; the URL Telegram is
            # given is never called because nothing is queued for it.
            app_server = LoopbackServer(channel.asgi_app())
            await app_server.start()
        try:
            await channel.add_connection(
                ChannelConnection(CID, TOKEN, "webhook-secret_1", public_url)
            )
            yield Rig(telegram, channel, sink, app_server.url if app_server else "")
        finally:
            await channel.stop()
            await telegram.aclose()
            if app_server is not None:
                await app_server.stop()


@pytest.fixture
async def flaky() -> AsyncIterator[Rig]:
    async for item in rig(RecordingSink(failures=2)):
        yield item


async def test_offset_moves_only_after_the_sink_stored_the_update(flaky: Rig) -> None:
    flaky.telegram.user_sends_text(TOKEN, USER, "keep me")
    await flaky.sink.wait(lambda: flaky.sink.accepted)
    [event] = flaky.sink.accepted
    assert isinstance(event, InboundMessage) and event.text == "keep me"
    # Two failed attempts and one success, the update still held by Telegram each time.
    assert flaky.sink.pending_at_attempt == [1, 1, 1]
    await flaky.telegram.wait_for(lambda: not flaky.sink.bot.updates)  # then confirmed


async def test_an_unreadable_update_is_rejected_and_does_not_block(flaky: Rig) -> None:
    flaky.sink.failures = 0
    flaky.telegram.push_update(
        TOKEN,
        {
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": USER, "type": "private"},
                "text": "no sender",
            }
        },
    )
    flaky.telegram.user_sends_text(TOKEN, USER, "after it")
    await flaky.sink.wait(lambda: flaky.sink.accepted)
    assert len(flaky.sink.rejected) == 1
    assert "unreadable" in flaky.sink.rejected[0][1]
    assert [e.text for e in flaky.sink.accepted] == ["after it"]  # type: ignore[union-attr]


async def test_group_messages_are_not_relayed(flaky: Rig) -> None:
    flaky.sink.failures = 0
    flaky.telegram.push_update(
        TOKEN,
        {
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": -100, "type": "group", "title": "g"},
                "from": {"id": USER, "is_bot": False, "first_name": "I"},
                "text": "in a group",
            }
        },
    )
    flaky.telegram.user_sends_text(TOKEN, USER, "private")
    await flaky.sink.wait(lambda: flaky.sink.accepted)
    assert [e.text for e in flaky.sink.accepted] == ["private"]  # type: ignore[union-attr]


async def test_webhook_route_answers_200_only_after_storing() -> None:
    sink = RecordingSink(failures=1)
    async for setup in rig(sink, public_url="https://bridge.invalid"):
        update = {
            "update_id": 5,
            "message": {
                "message_id": 7,
                "date": 1,
                "chat": {"id": USER, "type": "private"},
                "from": {"id": USER, "is_bot": False, "first_name": "Ivan"},
                "text": "hook",
            },
        }
        url = f"{setup.url}/webhook/{TOKEN.split(':', maxsplit=1)[0]}"
        good = {"X-Telegram-Bot-Api-Secret-Token": "webhook-secret_1"}
        async with httpx.AsyncClient() as client:
            assert (await client.post(url, json=update)).status_code == 401
            bad = {"X-Telegram-Bot-Api-Secret-Token": "webhook-secret_2"}
            assert (await client.post(url, json=update, headers=bad)).status_code == 401
            other = f"{setup.url}/webhook/123"
            assert (await client.post(other, json=update, headers=good)).status_code == 404
            failed = await client.post(url, json=update, headers=good)
            assert failed.status_code == 503  # the sink failed: Telegram must redeliver
            assert sink.accepted == []
            assert (await client.post(url, json=update, headers=good)).status_code == 200
            assert len(sink.accepted) == 1
            garbage = await client.post(url, content=b'{"update_id": "x"}', headers=good)
            assert garbage.status_code == 200 and len(sink.rejected) == 1


async def test_a_polled_update_aiogram_cannot_validate_reaches_the_operator_and_is_kept(
    flaky: Rig,
) -> None:
    flaky.sink.failures = 0
    poll = {
        "id": "p1",
        "question": "Which one?",
        "options": [{"text": "a", "voter_count": 0}],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    }
    flaky.telegram.push_update(
        TOKEN,
        {
            "message": {
                "message_id": 3,
                "date": 1,
                "chat": {"id": USER, "type": "private", "first_name": "Ivan"},
                "from": {"id": USER, "is_bot": False, "first_name": "Ivan"},
                "poll": poll,
            }
        },
    )
    flaky.telegram.user_sends_text(TOKEN, USER, "after the poll")
    await flaky.sink.wait(lambda: len(flaky.sink.accepted) == 2)
    texts = [e.text for e in flaky.sink.accepted]  # type: ignore[union-attr]
    assert texts == [
        "[unreadable] The customer sent a poll the bridge could not read",
        "after the poll",
    ]
    [(raw, reason)] = flaky.sink.rejected
    assert b'"poll"' in raw and "unreadable update" in reason
    await flaky.telegram.wait_for(lambda: not flaky.sink.bot.updates)  # then confirmed


async def test_a_webhook_update_aiogram_cannot_validate_reaches_the_operator() -> None:
    sink = RecordingSink()
    async for setup in rig(sink, public_url="https://bridge.invalid"):
        update = {
            "update_id": 6,
            "message": {
                "message_id": 8,
                "date": 1,
                "chat": {"id": USER, "type": "private"},
                "from": {"id": USER, "is_bot": False, "first_name": "Ivan"},
                "poll": {"id": "p", "question": "?", "options": []},
            },
        }
        url = f"{setup.url}/webhook/{TOKEN.split(':', maxsplit=1)[0]}"
        good = {"X-Telegram-Bot-Api-Secret-Token": "webhook-secret_1"}
        async with httpx.AsyncClient() as client:
            assert (await client.post(url, json=update, headers=good)).status_code == 200
        [event] = sink.accepted
        assert "poll the bridge could not read" in (event.text or "")  # type: ignore[union-attr]
        assert len(sink.rejected) == 1
