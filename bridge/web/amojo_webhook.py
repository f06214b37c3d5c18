"""POST /amojo/webhook/{scope_id}: check, store durably, and only then answer 200.

amoCRM sends a hook once and never again, within 5 s; so this route does no network I/O and
no parsing beyond what it needs to store and deduplicate the hook.
"""

from __future__ import annotations

import json
import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bridge.amojo.hooks import hook_identity
from bridge.amojo.signing import verify_hook_signature
from bridge.errors import UnknownScopeError
from bridge.web.deps import ContainerDep

log = logging.getLogger(__name__)
router = APIRouter()

MAX_HOOK_BYTES = 1024 * 1024


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_capped(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_HOOK_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_HOOK_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/amojo/webhook/{scope_id}")
async def amojo_webhook(scope_id: str, request: Request, container: ContainerDep) -> Response:
    started = time.perf_counter()
    metrics = container.metrics
    body = await _read_capped(request)
    if body is None:
        metrics.hooks.labels(result="too_large").inc()
        return _error(413, "hook body is larger than 1 MiB")
    secret = container.settings.channel_secret.get_secret_value()
    if not verify_hook_signature(secret, body, request.headers.get("X-Signature")):
        metrics.hooks.labels(result="bad_signature").inc()
        return _error(401, "missing or wrong X-Signature")
    try:
        data = json.loads(body)
    except ValueError:
        metrics.hooks.labels(result="malformed").inc()
        return _error(400, "hook body is not valid JSON")
    if not isinstance(data, dict):
        metrics.hooks.labels(result="malformed").inc()
        return _error(400, "hook body is not a JSON object")
    dedup_id, order_key = hook_identity(data)
    try:
        stored = await container.relay.accept_hook(scope_id, data, dedup_id, order_key)
    except UnknownScopeError:
        metrics.hooks.labels(result="unknown_scope").inc()
        return _error(404, "unknown scope")
    metrics.hooks.labels(result="stored" if stored else "duplicate").inc()
    metrics.hook_ack.observe(time.perf_counter() - started)
    return Response(status_code=200)
