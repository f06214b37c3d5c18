"""kill -9 and SIGTERM against the real ``amo-bridge serve`` subprocess: nothing is lost.

The emulators run in the test process on loopback; the bridge is a separate process that
is killed without warning and started again on the same database.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.e2e.conftest import CUSTOMER, TOKEN, Deployment

pytestmark = pytest.mark.e2e


async def kill9(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL


async def test_kill9_with_20_inbound_messages_queued(deployment: Deployment) -> None:
    amojo, telegram = deployment.amojo, deployment.telegram
    amojo.fail_until(time.monotonic() + 3600, status=503)  # the Chats API stalls
    first = await deployment.start()
    for n in range(20):
        telegram.user_sends_text(TOKEN, CUSTOMER, f"queued {n}")
    bot = telegram.bots[TOKEN]
    # Telegram forgets an update only once the bridge confirmed it, i.e. after storing it.
    await telegram.wait_for(lambda: not bot.updates, timeout=30)
    await kill9(first)
    amojo.fail_until(time.monotonic(), status=503)  # the Chats API is back
    second = await deployment.start()
    await amojo.wait_for(lambda: len(amojo.messages) == 20, timeout=60)
    assert [m.message["text"] for m in amojo.messages] == [f"queued {n}" for n in range(20)]
    assert amojo.duplicates == []
    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 10) == 0, deployment.logs()


async def test_kill9_after_10_hooks_acked_but_not_sent(deployment: Deployment) -> None:
    amojo, telegram = deployment.amojo, deployment.telegram
    first = await deployment.start()
    telegram.user_sends_text(TOKEN, CUSTOMER, "hello")
    await amojo.wait_for(lambda: len(amojo.messages) == 1, timeout=30)
    conversation = amojo.messages[0].conversation_id
    telegram.fail_server_next("sendMessage", 100_000, status=502)  # Telegram is down
    for n in range(10):
        reply = await amojo.send_operator_message(deployment.scope_id, conversation, f"reply {n}")
        assert reply.status == 200
    await telegram.wait_for(
        lambda: any(c.method.lower() == "sendmessage" for c in telegram.calls), timeout=30
    )
    await kill9(first)
    telegram.clear_faults()
    second = await deployment.start()
    await amojo.wait_for(lambda: len(amojo.delivery_statuses) == 10, timeout=60)
    assert [m.params["text"] for m in telegram.sent_to(CUSTOMER)] == [
        f"reply {n}" for n in range(10)
    ]
    assert {s.body["delivery_status"] for s in amojo.delivery_statuses} == {1}
    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 10) == 0, deployment.logs()


async def test_sigterm_releases_an_in_flight_job_and_exits_0(deployment: Deployment) -> None:
    amojo, telegram = deployment.amojo, deployment.telegram
    first = await deployment.start()
    telegram.user_sends_text(TOKEN, CUSTOMER, "hello")
    await amojo.wait_for(lambda: len(amojo.messages) == 1, timeout=30)
    telegram.hang_next("sendMessage")  # the send will be in flight when SIGTERM comes
    reply = await amojo.send_operator_message(
        deployment.scope_id, amojo.messages[0].conversation_id, "in flight"
    )
    assert reply.status == 200
    await telegram.wait_for(lambda: telegram.hanging == 1, timeout=30)
    first.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(first.wait(), 10) == 0, deployment.logs()
    assert "Traceback" not in deployment.logs()
    await deployment.start()
    await amojo.wait_for(lambda: len(amojo.delivery_statuses) == 1, timeout=30)
    assert [m.params["text"] for m in telegram.sent_to(CUSTOMER)] == ["in flight"]
