"""Receivers heal themselves, and readiness and ``status`` say how they are doing.

The whole bridge against both emulators: Telegram answers HTML error pages (nginx in front of a
Bot API backend that is down) for a while, or is down when the bridge starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bridge.container import Container
from bridge.ids import ConnectionId
from bridge.sandbox.harness import SandboxBridge, running_bridge
from tests.conftest import FAST_RETRY
from tests.e2e.conftest import TOKEN, Connected, connect

FOREVER = 10**6
DOWN_AFTER = 0.5  # BRIDGE_RECEIVER_DOWN_AFTER for these tests


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[SandboxBridge]:
    async with running_bridge(tmp_path, receiver_down_after=DOWN_AFTER, **FAST_RETRY) as running:
        yield running


def failed_polls(connected: Connected) -> int:
    return sum(1 for c in connected.telegram.calls if c.method == "getUpdates" and c.status >= 500)


async def test_polling_resumes_after_html_502_pages_and_readyz_follows(
    bridge: SandboxBridge,
) -> None:
    connected = await connect(bridge)
    await connected.customer_writes("before")
    connected.telegram.fail_server_next("getUpdates", FOREVER)
    await connected.customer_writes("ends the poll in flight")
    await connected.telegram.wait_for(lambda: failed_polls(connected) >= 3, timeout=20)

    async with httpx.AsyncClient() as client:
        down = await client.get(f"{bridge.bridge_url}/readyz")
        assert down.status_code == 503
        body = down.json()
        assert body["checks"]["receivers"].startswith(f"down: {connected.connection.id} retrying")
        [receiver] = body["receivers"]
        assert receiver["state"] == "retrying"
        assert receiver["last_error"] == "Telegram answered with something that is not JSON"

        await bridge.container.receivers.flush()
        [row] = await bridge.container.accounts.status()
        assert row.receiver.startswith("retrying: Telegram answered with something")

        connected.telegram.clear_faults()
        await connected.customer_writes("after the outage")
        assert [m.message["text"] for m in connected.amojo.messages] == [
            "before",
            "ends the poll in flight",
            "after the outage",
        ]
        up = await client.get(f"{bridge.bridge_url}/readyz")
    assert up.status_code == 200
    assert up.json()["checks"]["receivers"] == "ok"
    await bridge.container.receivers.flush()
    [row] = await bridge.container.accounts.status()
    assert row.receiver.startswith("polling, ok ")


async def test_a_bridge_started_while_telegram_is_down_relays_once_it_is_back(
    bridge: SandboxBridge,
) -> None:
    connected = await connect(bridge)
    # The serving process goes away, Telegram goes down, and a new process starts.
    channel = bridge.container.channels.get("telegram")
    await channel.remove_connection(ConnectionId(connected.connection.id))
    bridge.telegram.fail_server_next(None, FOREVER)
    second = Container(bridge.settings)
    await second.start()  # neither fails nor waits for Telegram
    try:
        assert second.started
        await bridge.telegram.wait_for(
            lambda: sum(1 for c in bridge.telegram.calls if c.status >= 500) >= 3, timeout=20
        )
        [health] = second.receivers.receivers()
        assert health.state == "retrying"
        await second.receivers.flush()
        [row] = await second.accounts.status()
        assert row.state == "active"
        assert row.receiver.startswith("retrying: ")

        bridge.telegram.clear_faults()
        bridge.telegram.user_sends_text(TOKEN, 5001, "are you there?")
        await bridge.amojo.wait_for(lambda: len(bridge.amojo.messages) == 1, timeout=30)
        assert bridge.amojo.messages[0].message["text"] == "are you there?"
        [health] = second.receivers.receivers()
        assert health.state == "running"
    finally:
        await second.stop()
