"""/healthz, /readyz and /metrics of a running bridge."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Connected


async def test_health_readiness_and_metrics(connected: Connected) -> None:
    base = connected.bridge.bridge_url
    await connected.customer_writes("Hi")
    await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), "Hello"
    )
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{base}/healthz")).json() == {"status": "ok"}
        ready = await client.get(f"{base}/readyz")
        assert ready.status_code == 200
        body = ready.json()
        assert body["ready"] is True
        assert body["checks"] == {"database": "ok", "workers": "ok", "receivers": "ok"}
        [receiver] = body["receivers"]
        assert receiver["connection_id"] == connected.connection.id
        assert receiver["mode"] == "polling" and receiver["state"] == "running"
        assert receiver["last_error"] is None and receiver["last_ok"] is not None
        metrics = (await client.get(f"{base}/metrics")).text
    assert 'bridge_amojo_hooks_total{result="stored"} 1.0' in metrics
    assert "bridge_amojo_hook_ack_seconds_count 1.0" in metrics
    assert 'bridge_jobs_total{kind="deliver_inbound",outcome="succeeded"}' in metrics


async def test_readyz_reports_stopped_workers(connected: Connected) -> None:
    await connected.bridge.container.worker.stop()
    async with httpx.AsyncClient() as client:
        ready = await client.get(f"{connected.bridge.bridge_url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["workers"] == "not running"
