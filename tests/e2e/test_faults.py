"""The fault matrix, in process: every row over real HTTP against the emulators.

The kill -9 rows run the bridge as a real subprocess: see test_kill.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bridge.sandbox.harness import running_bridge
from storage.models import Job, JobStatus
from tests.conftest import FAST_RETRY
from tests.e2e.conftest import BOT_ID, CUSTOMER, TOKEN, Connected, connect


def texts(connected: Connected) -> list[str]:
    return [m.message.get("text", "") for m in connected.amojo.messages]


def sent_texts(connected: Connected) -> list[str]:
    return [m.params.get("text", "") for m in connected.telegram.sent_to(CUSTOMER)]


async def jobs(connected: Connected, status: JobStatus) -> list[Job]:
    async with connected.bridge.container.store.read() as uow:
        return await uow.jobs.list(status=status, limit=1000)


async def test_chats_api_503_for_ten_seconds(connected: Connected) -> None:
    """Row 1: 503 for 10 s while 5 customer messages arrive → all 5 once, in order."""
    await connected.customer_writes("first")
    connected.amojo.fail_until(time.monotonic() + 10, status=503)
    for n in range(5):
        connected.telegram.user_sends_text(TOKEN, CUSTOMER, f"outage {n}")
    await connected.amojo.wait_for(lambda: len(connected.amojo.messages) == 6, timeout=30)
    assert texts(connected) == ["first"] + [f"outage {n}" for n in range(5)]
    assert connected.amojo.faults_served  # the outage was really hit
    assert connected.amojo.duplicates == []


async def test_chats_api_hangs(connected: Connected) -> None:
    """Row 2: the call times out (BRIDGE_AMOJO_TIMEOUT), is retried, arrives once."""
    await connected.customer_writes("first")
    connected.amojo.hang_next(1, kinds={"new_message"})
    connected.telegram.user_sends_text(TOKEN, CUSTOMER, "after a hang")
    await connected.amojo.wait_for(lambda: len(connected.amojo.messages) == 2, timeout=20)
    assert texts(connected) == ["first", "after a hang"]
    assert connected.amojo.duplicates == []


async def test_chats_api_processes_but_the_answer_is_lost(connected: Connected) -> None:
    """The request went through and only the answer was lost: the retry is refused as a
    duplicate msgid, the bridge finds its msgid in the chat history and counts it delivered."""
    await connected.customer_writes("first")
    connected.amojo.hang_next(1, kinds={"new_message"}, process=True)
    connected.telegram.user_sends_text(TOKEN, CUSTOMER, "answer lost")
    worker = connected.bridge.container.worker
    await worker.wait_until(lambda: worker.outcomes["succeeded"] >= 2, within=20)
    assert texts(connected) == ["first", "answer lost"]
    assert len(connected.amojo.duplicates) == 1  # the retry was refused…
    assert await jobs(connected, JobStatus.FAILED) == []  # …and that counted as success


async def test_chats_api_drops_the_connection(tmp_path: Path) -> None:
    """Row 3: the connection is cut mid-request → retried, arrives once."""
    async with running_bridge(tmp_path, proxy_amojo=True, **FAST_RETRY) as bridge:
        connected = await connect(bridge)
        await connected.customer_writes("first")
        assert bridge.amojo_proxy is not None
        bridge.amojo_proxy.drop_next(2)
        connected.telegram.user_sends_text(TOKEN, CUSTOMER, "after a cut")
        await connected.amojo.wait_for(lambda: len(connected.amojo.messages) == 2, timeout=20)
        assert bridge.amojo_proxy.dropped == 2
        assert texts(connected) == ["first", "after a cut"]


async def test_telegram_429_retry_after_2(connected: Connected) -> None:
    """Row 4: delivered once, not earlier than 2 s later."""
    await connected.customer_writes("Hi")
    connected.telegram.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 2",
        retry_after=2,
    )
    await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), "x"
    )
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
    calls = [c for c in connected.telegram.calls if c.method.lower() == "sendmessage"]
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 2.0
    assert sent_texts(connected) == ["x"]


async def test_telegram_timeout_on_send(tmp_path: Path) -> None:
    """Row 5b: a send that times out is retried and delivered once."""
    async with running_bridge(tmp_path, telegram_timeout=1.0, **FAST_RETRY) as bridge:
        connected = await connect(bridge)
        await connected.customer_writes("Hi")
        connected.telegram.hang_next("sendMessage")
        await connected.amojo.send_operator_message(
            connected.scope_id, connected.conversation_id(), "eventually"
        )
        await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
        assert connected.amojo.delivery_statuses[0].body["delivery_status"] == 1
        assert sent_texts(connected) == ["eventually"]


async def test_same_telegram_update_twice_in_webhook_mode(
    connected_webhook_mode: Connected,
) -> None:
    """Row 10: Telegram redelivers an update (webhook retry) → one Chats API message."""
    connected = connected_webhook_mode
    message = connected.telegram.user_sends_text(TOKEN, CUSTOMER, "said once")
    await connected.amojo.wait_for(lambda: len(connected.amojo.messages) == 1)
    update = {"update_id": 999_001, "message": message}
    secret = connected.telegram.bots[TOKEN].webhook.secret_token  # type: ignore[union-attr]
    async with httpx.AsyncClient() as client:
        for _ in range(2):
            answer = await client.post(
                f"{connected.bridge.bridge_url}/telegram/webhook/{BOT_ID}",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": secret or ""},
            )
            assert answer.status_code == 200
        wrong = await client.post(
            f"{connected.bridge.bridge_url}/telegram/webhook/{BOT_ID}",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        )
        assert wrong.status_code == 401
    connected.telegram.user_sends_text(TOKEN, CUSTOMER, "next")
    await connected.amojo.wait_for(lambda: len(connected.amojo.messages) == 2)
    assert texts(connected) == ["said once", "next"]


async def test_database_locked_for_two_seconds(connected: Connected) -> None:
    """Row 11 (SQLite): another process holds the write lock for 2 s; no error surfaces."""
    await connected.customer_writes("before the lock")
    path = connected.bridge.settings.database_url.split("///", 1)[1]
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # In a thread: the bridge shares this event loop and must keep running while we wait.
    await asyncio.to_thread(holder.execute, "BEGIN EXCLUSIVE")
    try:
        connected.telegram.user_sends_text(TOKEN, CUSTOMER, "while locked")
        hook = asyncio.create_task(
            connected.amojo.send_operator_message(
                connected.scope_id, connected.conversation_id(), "answer while locked"
            )
        )
        await asyncio.sleep(2)  # the fault itself: the lock is held for 2 s
        assert not hook.done()  # the webhook is waiting for the database, not failing
    finally:
        await asyncio.to_thread(holder.execute, "COMMIT")
        holder.close()
    assert (await hook).status == 200
    await connected.amojo.wait_for(lambda: len(connected.amojo.messages) == 2)
    await connected.telegram.wait_for(lambda: sent_texts(connected) == ["answer while locked"])
    assert texts(connected) == ["before the lock", "while locked"]
    assert await jobs(connected, JobStatus.FAILED) == []


@pytest.fixture
async def three_attempts(tmp_path: Path) -> AsyncIterator[Connected]:
    async with running_bridge(tmp_path, **(FAST_RETRY | {"retry_max_attempts": 3})) as bridge:
        yield await connect(bridge)


async def test_poison_job_dies_and_later_messages_still_flow(three_attempts: Connected) -> None:
    """Row 12: dead after N attempts, the conversation's later messages still flow; the dead
    message is listed as failed and can be replayed."""
    connected = three_attempts
    await connected.customer_writes("first")
    connected.amojo.fail_next(3, status=500, kinds={"new_message"})
    connected.telegram.user_sends_text(TOKEN, CUSTOMER, "poison")
    connected.telegram.user_sends_text(TOKEN, CUSTOMER, "later")
    await connected.amojo.wait_for(lambda: len(connected.amojo.messages) == 2, timeout=20)
    assert texts(connected) == ["first", "later"]
    [dead] = await jobs(connected, JobStatus.FAILED)
    assert dead.attempts == 3 and "500" in (dead.last_error or "")
    [row] = await connected.bridge.container.accounts.status()
    assert row.failed == 1 and row.last_error
    async with connected.bridge.container.store.transaction() as uow:
        assert await uow.jobs.requeue_failed() == 1
    await connected.amojo.wait_for(lambda: len(connected.amojo.messages) == 3)
    assert texts(connected)[-1] == "poison"
