"""A hook is bound to its scope's account, a disconnected scope is refused at once, and typing or
reaction hooks that are old or replayed are dropped: all over real HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import select

from bridge.amojo.signing import sign_hook
from bridge.container import Container
from storage.models import Job
from tests.e2e.conftest import ACCOUNT, CUSTOMER, TOKEN, Connected


async def post(connected: Connected, body: bytes) -> httpx.Response:
    secret = connected.bridge.settings.channel_secret.get_secret_value()
    headers = {"Content-Type": "application/json", "X-Signature": sign_hook(secret, body)}
    url = f"{connected.bridge.bridge_url}/amojo/webhook/{connected.scope_id}"
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=body, headers=headers)


async def hook_jobs(connected: Connected) -> list[Job]:
    async with connected.bridge.container.store.read() as uow:
        rows = await uow.session.execute(select(Job).where(Job.kind == "process_amojo_hook"))
        return list(rows.scalars())


def counted(connected: Connected, result: str) -> int:
    registry = connected.bridge.container.metrics.registry
    return int(registry.get_sample_value("bridge_amojo_hooks_total", {"result": result}) or 0)


def typing_body(connected: Connected, *, age: float = 0.0, account: str = ACCOUNT) -> bytes:
    chat = connected.amojo.chat_for(connected.scope_id, connected.conversation_id())
    assert chat is not None
    moment = int(time.time() - age)
    hook: dict[str, Any] = {
        "account_id": account,
        "time": moment,
        "action": {
            "typing": {
                "user": {"id": "operator"},
                "conversation": {"id": chat.chat_id, "client_id": connected.conversation_id()},
                "expired_at": moment + 5,
            }
        },
    }
    return json.dumps(hook).encode()


async def test_a_hook_naming_another_account_is_refused_and_not_stored(
    connected: Connected,
) -> None:
    await connected.customer_writes("Hi")
    _, body = connected.amojo.build_message_hook(
        connected.scope_id, connected.conversation_id(), "for someone else"
    )
    hook = json.loads(body)
    hook["account_id"] = "11111111-2222-3333-4444-555555555555"
    answer = await post(connected, json.dumps(hook).encode())
    assert answer.status_code == 403
    assert "account" in answer.json()["error"]
    assert await hook_jobs(connected) == []
    typing = await post(connected, typing_body(connected, account="another-account"))
    assert typing.status_code == 403
    assert await hook_jobs(connected) == []


async def test_a_scope_disconnected_by_another_process_is_refused_at_once(
    connected: Connected,
) -> None:
    await connected.customer_writes("Hi")
    # The serving process has read (and cached) the connection while delivering.
    assert connected.bridge.container.lookups.connection(connected.connection.id) is not None
    _, body = connected.amojo.build_message_hook(
        connected.scope_id, connected.conversation_id(), "after disconnect"
    )
    # What `amo-bridge disconnect` does: its own container, in its own process.
    cli = Container(connected.bridge.settings)
    try:
        await cli.accounts.disconnect(ACCOUNT)
    finally:
        await cli.close()
    answer = await post(connected, body)
    assert answer.status_code == 404
    assert await hook_jobs(connected) == []


async def test_disconnect_in_process_drops_the_cached_connection_at_once(
    connected: Connected,
) -> None:
    await connected.customer_writes("Hi")
    container = connected.bridge.container
    assert container.lookups.connection(connected.connection.id) is not None
    _, body = connected.amojo.build_message_hook(
        connected.scope_id, connected.conversation_id(), "after disconnect"
    )
    await container.accounts.disconnect(ACCOUNT)
    assert container.lookups.connection(connected.connection.id) is None
    assert container.lookups.connection_by_scope(connected.scope_id) is None
    assert (await post(connected, body)).status_code == 404
    assert await hook_jobs(connected) == []


async def test_a_typing_hook_older_than_a_minute_is_answered_but_not_shown(
    connected: Connected,
) -> None:
    telegram = connected.telegram
    await connected.customer_writes("Hi")
    assert (await post(connected, typing_body(connected, age=120))).status_code == 200
    assert await hook_jobs(connected) == []
    assert counted(connected, "stale") == 1
    # A fresh one is shown: the stale one was not merely late.
    assert (await post(connected, typing_body(connected))).status_code == 200
    await telegram.wait_for(lambda: len(telegram.chat_actions) == 1)
    assert len(await hook_jobs(connected)) == 1


async def test_a_replayed_typing_or_reaction_hook_is_delivered_once(
    connected: Connected,
) -> None:
    telegram, amojo = connected.telegram, connected.amojo
    telegram.user_sends_text(TOKEN, CUSTOMER, "Great, thanks!")
    await amojo.wait_for(lambda: len(amojo.messages) == 1)
    typing = typing_body(connected)
    for _ in range(3):
        assert (await post(connected, typing)).status_code == 200
    chat = amojo.chat_for(connected.scope_id, connected.conversation_id())
    assert chat is not None
    reaction = {
        "account_id": ACCOUNT,
        "time": int(time.time()),
        "action": {
            "reaction": {
                "message": {"id": amojo.messages[0].amojo_id},
                "user": {"id": "operator"},
                "conversation": {"id": chat.chat_id, "client_id": connected.conversation_id()},
                "type": "react",
                "emoji": "👍",
            }
        },
    }
    for _ in range(3):
        assert (await post(connected, json.dumps(reaction).encode())).status_code == 200
    assert counted(connected, "duplicate") == 4
    # Hooks of one chat run in order: once this message is out, the replays would have been.
    await amojo.send_operator_message(connected.scope_id, connected.conversation_id(), "next")
    await telegram.wait_for(lambda: len(telegram.sent_to(CUSTOMER)) == 1)
    assert len(telegram.chat_actions) == 1
    assert len(telegram.reactions_set) == 1
    assert len(await hook_jobs(connected)) == 3
