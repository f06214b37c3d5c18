"""A send Telegram carried out but answered only after the bridge's timeout, over real HTTP:
``BRIDGE_UNCERTAIN_SENDS=resend`` sends it again (two copies, the resend counted in /metrics),
``report`` does not (one copy, status -1 in amoCRM saying it may not have reached the customer).
"""

from __future__ import annotations

from pathlib import Path

import httpx

from bridge.sandbox.harness import running_bridge
from tests.conftest import FAST_RETRY
from tests.e2e.conftest import CUSTOMER, Connected, connect

TEXT = "Your order has shipped"


async def _late_answer(connected: Connected) -> list[str]:
    await connected.customer_writes("Hi")
    connected.telegram.answer_late_next("sendMessage")
    await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), TEXT
    )
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
    return [m.params["text"] for m in connected.telegram.sent_to(CUSTOMER)]


async def _resends(connected: Connected) -> str:
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{connected.bridge.bridge_url}/metrics")).text
    return next(
        (line for line in metrics.splitlines() if line.startswith("bridge_uncertain_resends")),
        "",
    )


async def test_resend_delivers_a_second_copy_and_counts_the_resend(tmp_path: Path) -> None:
    overrides = {**FAST_RETRY, "telegram_timeout": 1.0, "uncertain_sends": "resend"}
    async with running_bridge(tmp_path, **overrides) as bridge:
        connected = await connect(bridge)
        assert await _late_answer(connected) == [TEXT, TEXT]
        [status] = connected.amojo.delivery_statuses
        assert status.body["delivery_status"] == 1
        assert await _resends(connected) == (
            'bridge_uncertain_resends_total{reason="unknown_outcome"} 1.0'
        )


async def test_report_keeps_one_copy_and_shows_it_may_not_have_arrived(tmp_path: Path) -> None:
    overrides = {**FAST_RETRY, "telegram_timeout": 1.0, "uncertain_sends": "report"}
    async with running_bridge(tmp_path, **overrides) as bridge:
        connected = await connect(bridge)
        assert await _late_answer(connected) == [TEXT]
        [status] = connected.amojo.delivery_statuses
        assert status.body["delivery_status"] == -1
        assert status.body["error_code"] == 905
        assert "may not have reached the customer" in status.body["error"]
        assert await _resends(connected) == ""
