"""/healthz (the process answers), /readyz (database reachable, workers running), /metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge.web.deps import ContainerDep

router = APIRouter()

STALE_WORKER = 60.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(container: ContainerDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await container.store.ping()
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - reported, not raised: this is the probe
        checks["database"] = f"unreachable: {type(error).__name__}"
    worker = container.worker
    fresh = time.monotonic() - worker.heartbeat < STALE_WORKER
    checks["workers"] = "ok" if worker.running and fresh else "not running"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(container: ContainerDep) -> Response:
    return Response(generate_latest(container.metrics.registry), media_type=CONTENT_TYPE_LATEST)
