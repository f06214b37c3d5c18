"""Control routes of the Telegram emulator, for a driver in another process (the benchmark).

They live under ``/__emulator__/``, beside the Bot API routes and never part of them. Every
timestamp is ``time.monotonic()``, which on Linux is one clock for the whole machine, so a
driver can compare it with its own clock and with the Chats API emulator's.

- ``POST /__emulator__/bot`` ``{token, username, first_name?}``: add a bot (idempotent).
- ``POST /__emulator__/users_send`` ``{token, messages: [{user_id, text}]}``: customers write;
  a user is created on first use. Answers ``{update_ids: [...], at}`` (``at``: when queued).
- ``GET /__emulator__/summary``: counts (bots, users, sent, calls by method, queued updates,
  ...) and the last failed calls.
- ``GET /__emulator__/sent?since=I&wait=S``: what bots sent, ``[chat_id, text, at]`` from
  index ``I`` on; waits up to ``S`` seconds for there to be more than ``I``.
- ``GET /__emulator__/handed?token=T&first=ID``: ``[[update_id, at], ...]`` for updates from
  ``ID`` on: when each first left for the bot (getUpdates answer or webhook POST).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

if TYPE_CHECKING:
    from emulators.telegram.app import TelegramEmulator

PREFIX = "/__emulator__"
MAX_WAIT = 30.0


def _error(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, 400)


def add_control_routes(app: FastAPI, emulator: TelegramEmulator) -> None:
    @app.post(PREFIX + "/bot")
    async def add_bot(request: Request) -> Response:
        data = await request.json()
        try:
            token, username = str(data["token"]), str(data["username"])
            if token not in emulator.bots:
                emulator.add_bot(token, username, str(data.get("first_name") or "Bench Bot"))
        except (KeyError, TypeError, ValueError) as exc:
            return _error(f"{type(exc).__name__}: {exc}")
        return JSONResponse({"bot_id": emulator.bots[token].bot_id})

    @app.post(PREFIX + "/users_send")
    async def users_send(request: Request) -> Response:
        data = await request.json()
        update_ids: list[int] = []
        try:
            token = str(data["token"])
            queue = emulator.bot(token).updates
            for item in data["messages"]:
                before = len(queue)
                emulator.user_sends_text(token, int(item["user_id"]), str(item["text"]))
                # -1: the bot's allowed_updates dropped it, as Telegram would
                update_ids.append(int(queue[-1]["update_id"]) if len(queue) > before else -1)
        except (KeyError, TypeError, ValueError) as exc:
            return _error(f"{type(exc).__name__}: {exc}")
        return JSONResponse({"update_ids": update_ids, "at": time.monotonic()})

    @app.get(PREFIX + "/summary")
    async def summary() -> dict[str, Any]:
        return {
            "bots": len(emulator.bots),
            "users": len(emulator.users),
            "chats": len(emulator.chats),
            "sent": len(emulator.sent),
            "calls": len(emulator.calls),
            "failed_calls": sum(1 for c in emulator.calls if c.status >= 400),
            "last_failures": [
                [c.method, c.status, c.description, c.at]
                for c in emulator.calls
                if c.status >= 400
            ][-10:],
            "calls_by_method": dict(Counter(c.method for c in emulator.calls)),
            "queued_updates": sum(len(b.updates) for b in emulator.bots.values()),
            "webhooks": sum(1 for b in emulator.bots.values() if b.webhook is not None),
            "webhook_deliveries": len(emulator.webhook_deliveries),
            "webhook_failures": sum(1 for d in emulator.webhook_deliveries if d.error),
            "dropped_updates": len(emulator.dropped_updates),
        }

    @app.get(PREFIX + "/sent")
    async def sent(since: int = 0, wait: float = 0.0) -> dict[str, Any]:
        if wait > 0 and len(emulator.sent) <= since:
            with contextlib.suppress(TimeoutError):
                await emulator.wait_for(lambda: len(emulator.sent) > since, min(wait, MAX_WAIT))
        rows = [
            [s.chat_id, s.params.get("text") or s.params.get("caption") or "", s.at]
            for s in emulator.sent[since:]
        ]
        return {"next": since + len(rows), "sent": rows}

    @app.get(PREFIX + "/handed")
    async def handed(token: str, first: int = 0) -> Response:
        bot = emulator.bots.get(token)
        if bot is None:
            return _error("unknown bot token")
        rows = [
            [update_id, at]
            for (bot_id, update_id), at in emulator.handed_at.items()
            if bot_id == bot.bot_id and update_id >= first
        ]
        return JSONResponse({"handed": rows})
