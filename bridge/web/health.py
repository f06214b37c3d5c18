"""/healthz (the process answers), /readyz (database reachable, workers running, no receiver
down for longer than BRIDGE_RECEIVER_DOWN_AFTER), /metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge.web.deps import MetricsDep, ReceiversDep, SettingsDep, StoreDep, WorkerDep

router = APIRouter()

STALE_WORKER = 60.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(
    store: StoreDep, worker: WorkerDep, receivers: ReceiversDep, settings: SettingsDep
) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await store.ping()
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - reported, not raised: this is the probe
        checks["database"] = f"unreachable: {type(error).__name__}"
    fresh = time.monotonic() - worker.heartbeat < STALE_WORKER
    checks["workers"] = "ok" if worker.running and fresh else "not running"
    now = time.time()
    limit = settings.receiver_down_after
    listed = []
    down = []
    for health in receivers.receivers():
        listed.append(
            {
                "connection_id": health.connection_id,
                "mode": health.mode,
                "state": health.state.value,
                "since": health.since,
                "last_ok": health.last_ok,
                "last_error": health.last_error,
            }
        )
        if health.down and now - health.since > limit:
            down.append(f"{health.connection_id} {health.state.value} ({health.last_error})")
    checks["receivers"] = "down: " + "; ".join(down) if down else "ok"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"ready": ready, "checks": checks, "receivers": listed},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
