"""Webhook delivery: how the Telegram emulator pushes a bot's update queue to its webhook.

``EmulatorState.set_webhook`` starts ``push_updates`` as the bot's sender task. By default it
posts one update at a time per bot, which keeps the tests' scripts simple. Telegram itself opens
up to ``max_connections`` (default 40) connections to a webhook; updates of one chat still
arrive one after the other, each only once the previous was answered. That sender is switched on
with ``TelegramEmulator(webhook_parallel=True)`` (the benchmark does) so that the emulator, not
the bridge, is never what limits a webhook's throughput. Either retries a refused update,
doubling the pause, and records every attempt in ``webhook_deliveries``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import httpx

from emulators.telegram.records import BotState, Webhook, WebhookDelivery, unix_now

if TYPE_CHECKING:
    from emulators.telegram.state import EmulatorState

# How far down the queue a free connection looks for an update of an idle chat; bounds the
# work per wake-up when a few busy chats hold thousands of updates.
LOOKAHEAD = 1000


def push_updates(
    state: EmulatorState, bot: BotState, webhook: Webhook
) -> Coroutine[Any, Any, None]:
    """The sender task's body: runs until ``bot.webhook`` is no longer ``webhook``."""
    if state.webhook_parallel:
        return _deliver_in_parallel(state, bot, webhook)
    return _deliver_in_order(state, bot, webhook)


async def _deliver_in_order(state: EmulatorState, bot: BotState, webhook: Webhook) -> None:
    failures = 0
    while bot.webhook is webhook:
        if not bot.updates:
            await state.wait_changed(None)
            continue
        update = bot.updates[0]
        if await post_once(state, bot, webhook, update):
            if bot.updates and bot.updates[0] is update:
                bot.updates.pop(0)
            failures = 0
            state.notify()
            continue
        # Telegram retries the same update, doubling the pause; the next one waits behind it.
        await asyncio.sleep(retry_delay(state, failures))
        failures += 1


def retry_delay(state: EmulatorState, failures: int) -> float:
    base = state.webhook_retry_base
    return min(base * 2.0**failures, max(1.0, base))


async def post_once(
    state: EmulatorState, bot: BotState, webhook: Webhook, update: dict[str, Any]
) -> bool:
    """POST one update to the webhook and record the attempt; True when it was taken."""
    state.mark_handed(bot, [update])
    status, error = await _post_update(state.http, webhook, update)
    state.webhook_deliveries.append(
        WebhookDelivery(bot.bot_id, update["update_id"], status, error, time.monotonic())
    )
    if error is None:
        return True
    webhook.last_error_date, webhook.last_error_message = unix_now(), error
    state.notify()
    return False


async def _post_update(
    http: httpx.AsyncClient, webhook: Webhook, update: dict[str, Any]
) -> tuple[int | None, str | None]:
    secret = webhook.secret_token
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    try:
        response = await http.post(webhook.url, json=update, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"Connection failed: {type(exc).__name__}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    reason = response.reason_phrase or "Error"
    return (
        response.status_code,
        f"Wrong response from the webhook: {response.status_code} {reason}",
    )


def chat_key(update: dict[str, Any]) -> Any:
    """What Telegram orders by: the chat, else the user; None groups the rest in one line."""
    for kind, value in update.items():
        if kind == "update_id" or not isinstance(value, dict):
            continue
        chat = value.get("chat") or (value.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return chat["id"]
        user = value.get("from") or value.get("user")
        if isinstance(user, dict) and "id" in user:
            return ("user", user["id"])
    return None


async def _deliver_in_parallel(state: EmulatorState, bot: BotState, webhook: Webhook) -> None:
    running: dict[int, asyncio.Task[None]] = {}  # by update_id
    busy: set[Any] = set()  # chats with an update in flight

    def finished(update_id: int, key: Any, _: asyncio.Task[None]) -> None:
        running.pop(update_id, None)
        busy.discard(key)
        state.notify()

    try:
        while bot.webhook is webhook:
            for update in bot.updates[:LOOKAHEAD]:
                if len(running) >= webhook.max_connections:
                    break
                update_id, key = int(update["update_id"]), chat_key(update)
                if update_id in running or key in busy:
                    continue
                busy.add(key)
                task = asyncio.create_task(_send(state, bot, webhook, update))
                task.add_done_callback(functools.partial(finished, update_id, key))
                running[update_id] = task
            await state.wait_changed(None)
    finally:
        for task in running.values():
            task.cancel()
        for task in list(running.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _send(state: EmulatorState, bot: BotState, webhook: Webhook, update: Any) -> None:
    failures = 0
    while bot.webhook is webhook:
        if await post_once(state, bot, webhook, update):
            for index, queued in enumerate(bot.updates):
                if queued is update:
                    del bot.updates[index]
                    break
            return
        await asyncio.sleep(retry_delay(state, failures))
        failures += 1
