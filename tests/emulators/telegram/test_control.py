"""The Telegram emulator's ``/__emulator__/`` routes and its parallel webhook delivery.

These serve a driver in another process (the benchmark); the Bot API surface itself is
covered in ``test_emulator.py``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

import httpx
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from fastapi import FastAPI, Request
from fastapi.responses import Response

from emulators.loopback import LoopbackServer
from emulators.telegram.app import TelegramEmulator

TOKEN = "42:TEST-secret-part"


def make_bot(control: httpx.AsyncClient) -> Bot:
    api = str(control.base_url).rstrip("/").removesuffix("/__emulator__")
    return Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api)))


@pytest.fixture
async def served() -> AsyncIterator[tuple[TelegramEmulator, httpx.AsyncClient]]:
    emulator = TelegramEmulator(webhook_parallel=True)
    async with (
        LoopbackServer(emulator.app) as server,
        httpx.AsyncClient(base_url=server.url + "/__emulator__") as client,
    ):
        yield emulator, client
        await emulator.aclose()


async def test_a_driver_adds_a_bot_and_scripts_customers(
    served: tuple[TelegramEmulator, httpx.AsyncClient],
) -> None:
    emulator, control = served
    assert (await control.post("/bot", json={"token": TOKEN, "username": "b"})).status_code == 200
    messages = [{"user_id": 7, "text": "a"}, {"user_id": 8, "text": "b"}]
    sent = await control.post("/users_send", json={"token": TOKEN, "messages": messages})
    ids = sent.json()["update_ids"]
    assert len(ids) == 2 and ids[1] == ids[0] + 1
    summary = (await control.get("/summary")).json()
    assert (summary["users"], summary["queued_updates"], summary["failed_calls"]) == (2, 2, 0)
    bot = make_bot(control)
    try:
        updates = await bot.get_updates()
        reply = await bot.send_message(7, "hello")
    finally:
        await bot.session.close()
    assert [u.message.text for u in updates if u.message] == ["a", "b"]
    handed = (await control.get("/handed", params={"token": TOKEN, "first": ids[0]})).json()
    assert sorted(u for u, _ in handed["handed"]) == ids
    rows = (await control.get("/sent", params={"since": 0})).json()
    assert rows["next"] == 1 and rows["sent"][0][:2] == [7, "hello"]
    assert reply.message_id == emulator.sent[0].message_id


async def test_parallel_webhook_keeps_each_chat_in_order(
    served: tuple[TelegramEmulator, httpx.AsyncClient],
) -> None:
    emulator, control = served
    received: dict[int, list[str]] = defaultdict(list)
    in_flight: dict[int, int] = defaultdict(int)
    overlap = {"chats": 0, "same_chat": 0}
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> Response:
        message = (await request.json())["message"]
        chat = message["chat"]["id"]
        in_flight[chat] += 1
        overlap["same_chat"] = max(overlap["same_chat"], in_flight[chat])
        overlap["chats"] = max(overlap["chats"], sum(1 for n in in_flight.values() if n))
        await asyncio.sleep(0.02)
        received[chat].append(message["text"])
        in_flight[chat] -= 1
        return Response(status_code=200)

    await control.post("/bot", json={"token": TOKEN, "username": "b"})
    messages = [{"user_id": u, "text": f"{u}-{n}"} for n in range(4) for u in (1, 2, 3)]
    async with LoopbackServer(receiver) as hook_server:
        bot = make_bot(control)
        try:
            await control.post("/users_send", json={"token": TOKEN, "messages": messages})
            assert await bot.set_webhook(f"{hook_server.url}/hook")
            await emulator.wait_for(lambda: sum(map(len, received.values())) == 12)
            await bot.delete_webhook()
        finally:
            await bot.session.close()
    assert dict(received) == {u: [f"{u}-{n}" for n in range(4)] for u in (1, 2, 3)}
    assert overlap == {"chats": 3, "same_chat": 1}
