"""Nothing is lost: Chats API outages, and a restart with jobs still pending."""

from __future__ import annotations

import time
from pathlib import Path

from bridge.container import Container
from bridge.sandbox.harness import running_bridge
from tests.conftest import FAST_RETRY
from tests.e2e.conftest import CUSTOMER, TOKEN, Connected, connect


async def test_chats_api_503_outage_five_messages_arrive_once_in_order(
    connected: Connected,
) -> None:
    amojo = connected.amojo
    await connected.customer_writes("before the outage")
    amojo.fail_until(time.monotonic() + 3600, status=503)
    texts = [f"during outage {n}" for n in range(5)]
    for text in texts:
        connected.telegram.user_sends_text(TOKEN, CUSTOMER, text)
    await amojo.wait_for(lambda: len(amojo.faults_served) >= 3)
    assert len(amojo.messages) == 1  # nothing got through while it was down
    amojo.fail_until(time.monotonic(), status=503)  # the outage ends
    await amojo.wait_for(lambda: len(amojo.messages) == 6)
    received = [m.message["text"] for m in amojo.messages[1:]]
    assert received == texts
    assert len({m.msgid for m in amojo.messages}) == 6
    assert amojo.duplicates == []


async def test_restart_with_jobs_pending_resumes_them(tmp_path: Path) -> None:
    async with running_bridge(tmp_path, **FAST_RETRY) as bridge:
        connected = await connect(bridge)
        amojo = connected.amojo
        amojo.fail_until(time.monotonic() + 3600, status=503)
        for n in range(3):
            connected.telegram.user_sends_text(TOKEN, CUSTOMER, f"pending {n}")
        await amojo.wait_for(lambda: len(amojo.faults_served) >= 2)
        # The bridge goes down with the messages stored but not delivered.
        await bridge.container.stop()
        amojo.fail_until(time.monotonic(), status=503)
        restarted = Container(bridge.settings)
        await restarted.start()
        try:
            await amojo.wait_for(lambda: len(amojo.messages) == 3)
            assert [m.message["text"] for m in amojo.messages] == [
                f"pending {n}" for n in range(3)
            ]
            assert amojo.duplicates == []
        finally:
            await restarted.stop()
