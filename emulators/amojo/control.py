"""More control routes of the Chats API emulator, for a driver in another process (benchmark).

Beside ``GET /__emulator__/summary`` and ``POST /__emulator__/operator_message`` (in
``amojo_emulator.py``). Timestamps are ``time.monotonic()``: one clock for the whole machine on
Linux, so a driver compares them with its own and with the Telegram emulator's.

- ``GET /__emulator__/arrivals?since=I&wait=S``: customer messages accepted, from index ``I``:
  ``[text, conversation_id, msgid, received_at]``; waits up to ``S`` s for more than ``I``.
- ``GET /__emulator__/delivery_statuses?since=I&wait=S``: ``[amojo_msgid, status, at]``.
- ``GET /__emulator__/rejected?since=I``: refused requests, with the reason.
- ``POST /__emulator__/operator_hooks`` ``{scope_id, messages: [{conversation_id, text}]}``:
  creates operator messages (valid delivery_status targets) and answers their hook bodies
  ``[[id, body], ...]`` *without sending them*, so the driver can post them itself and time
  the bridge's acknowledgements from an otherwise idle process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sized
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

if TYPE_CHECKING:
    from emulators.amojo.app import AmojoEmulator

PREFIX = "/__emulator__"
MAX_WAIT = 30.0


def add_control_routes(app: FastAPI, emulator: AmojoEmulator) -> None:
    async def more_than(records: Sized, since: int, wait: float) -> None:
        def grown() -> bool:
            return len(records) > since

        if wait > 0 and not grown():
            with contextlib.suppress(TimeoutError):
                await emulator.wait_for(grown, min(wait, MAX_WAIT))

    @app.get(PREFIX + "/arrivals")
    async def arrivals(since: int = 0, wait: float = 0.0) -> dict[str, Any]:
        await more_than(emulator.messages, since, wait)
        rows = [
            [m.message.get("text", ""), m.conversation_id, m.msgid, m.received_at]
            for m in emulator.messages[since:]
        ]
        return {"next": since + len(rows), "messages": rows}

    @app.get(PREFIX + "/delivery_statuses")
    async def delivery_statuses(since: int = 0, wait: float = 0.0) -> dict[str, Any]:
        await more_than(emulator.delivery_statuses, since, wait)
        rows = [
            [d.amojo_msgid, d.body.get("delivery_status"), d.received_at]
            for d in emulator.delivery_statuses[since:]
        ]
        return {"next": since + len(rows), "statuses": rows}

    @app.get(PREFIX + "/rejected")
    async def rejected(since: int = 0) -> dict[str, Any]:
        rows = [
            [r.method, r.path, r.status, r.error_type, r.description, r.detail]
            for r in emulator.rejected[since:]
        ]
        return {"next": since + len(rows), "rejected": rows}

    @app.post(PREFIX + "/operator_hooks")
    async def operator_hooks(request: Request) -> Response:
        data = await request.json()
        hooks: list[list[str]] = []
        try:
            scope_id = str(data["scope_id"])
            for item in data["messages"]:
                message_id, body = emulator.build_message_hook(
                    scope_id, str(item["conversation_id"]), str(item["text"])
                )
                hooks.append([message_id, body.decode()])
        except (KeyError, TypeError, ValueError, LookupError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, 400)
        return JSONResponse({"hooks": hooks})
