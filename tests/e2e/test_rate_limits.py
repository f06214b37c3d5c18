"""Bursts are smoothed by the bridge's own limiter instead of being answered with 429s."""

from __future__ import annotations

from tests.e2e.conftest import CUSTOMER, Connected


async def test_a_burst_to_one_chat_gets_no_429(connected: Connected) -> None:
    await connected.customer_writes("Hi")
    # The emulator now throttles like Telegram: about 1 message/s per chat after a burst of 5;
    # the bridge's own default (1/s after 3) stays below that.
    connected.telegram.enforce_chat_limit(rate=1.0, burst=5)
    texts = [f"part {n}" for n in range(8)]
    for text in texts:
        await connected.amojo.send_operator_message(
            connected.scope_id, connected.conversation_id(), text
        )
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 8, timeout=30)
    sends = [c for c in connected.telegram.calls if c.method.lower() == "sendmessage"]
    assert [c.status for c in sends] == [200] * 8  # never throttled by "Telegram"
    assert [m.params["text"] for m in connected.telegram.sent_to(CUSTOMER)] == texts
    # …because the bridge itself spaced them: its burst of 3, then about one a second.
    first = sends[0].at
    assert sum(1 for c in sends if c.at - first < 1.0) <= 3 + 1
