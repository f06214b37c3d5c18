"""Telegram webhook mode: ``POST /webhook/{bot_id}`` (mounted under ``/telegram``).

Addressed by the bot's public id and checked with the secret header, so no token is ever in a
URL. The answer is 200 only after the sink stored the update; anything else makes Telegram
deliver it again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import Update
from fastapi import FastAPI, Request, Response
from pydantic import ValidationError

from bridge.ids import ConnectionId

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_UPDATE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    connection_id: ConnectionId
    bot: Bot
    secret: str


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past ``limit`` (the rest is never read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_webhook_app(
    target_for: Callable[[str], WebhookTarget | None],
    handle: Callable[[WebhookTarget, Update], Awaitable[None]],
    reject: Callable[[WebhookTarget, bytes, str], Awaitable[None]],
) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/webhook/{bot_id}")
    async def telegram_webhook(bot_id: str, request: Request) -> Response:
        target = target_for(bot_id)
        if target is None:
            return Response(status_code=404)
        given = request.headers.get(SECRET_HEADER, "")
        if not secrets.compare_digest(given.encode(), target.secret.encode()):
            return Response(status_code=401)
        body = await read_capped(request, MAX_UPDATE_BYTES)
        if body is None:
            return Response(status_code=413)
        try:
            update = Update.model_validate_json(body, context={"bot": target.bot})
        except ValidationError as error:
            # Telegram would resend an unreadable update until it expires; keep it as a
            # rejected item instead, and acknowledge it.
            reason = f"unreadable webhook update: {error.error_count()} validation errors"
            try:
                await reject(target, body, reason)
            except Exception:
                log.exception("recording an unreadable update failed")
                return Response(status_code=503, headers={"Retry-After": "1"})
            return Response(status_code=200)
        try:
            await handle(target, update)
        except Exception:
            log.exception(
                "storing webhook update failed; Telegram will redeliver it",
                extra={"connection_id": target.connection_id},
            )
            return Response(status_code=503, headers={"Retry-After": "1"})
        return Response(status_code=200)

    return app
