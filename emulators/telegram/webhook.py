"""Webhook delivery the way Telegram does it under load: chats in parallel, each chat in order.

Telegram opens up to ``max_connections`` (default 40) connections to a webhook; updates of one
chat still arrive one after the other, each only once the previous was answered. The default
sender in ``emulator_state`` posts one update at a time per bot, which keeps the tests' scripts
simple; this one is switched on with ``TelegramEmulator(webhook_parallel=True)`` (the benchmark
does) so that the emulator, not the bridge, is never what limits a webhook's throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulators.telegram.state import BotState, EmulatorState, Webhook

# How far down the queue a free connection looks for an update of an idle chat; bounds the
# work per wake-up when a few busy chats hold thousands of updates.
LOOKAHEAD = 1000


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


async def deliver_in_parallel(state: EmulatorState, bot: BotState, webhook: Webhook) -> None:
    running: dict[int, asyncio.Task[None]] = {}  # by update_id
    busy: set[Any] = set()  # chats with an update in flight

    def finished(update_id: int, key: Any) -> None:
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
                task.add_done_callback(lambda _, u=update_id, k=key: finished(u, k))
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
        if await state.post_once(bot, webhook, update):
            for index, queued in enumerate(bot.updates):
                if queued is update:
                    del bot.updates[index]
                    break
            return
        await asyncio.sleep(state.retry_delay(failures))
        failures += 1
