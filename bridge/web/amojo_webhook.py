"""POST /amojo/webhook/{scope_id}: check, validate, store durably, and only then answer 200.

amoCRM sends a hook once and never again, within 5 s; so this route does no network I/O. A
hook is validated once, here (``bridge.amojo.models``); the job stores the validated model.
A signed hook that cannot be read is answered 4xx and kept as a rejected hook: nothing that
carries the channel's signature vanishes unseen.
"""

from __future__ import annotations

import logging
import re
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from bridge.amojo.models import describe_error, parse_hook_body
from bridge.amojo.signing import verify_hook_signature
from bridge.errors import ScopeMismatchError, UnknownScopeError
from bridge.relay import HookOutcome
from bridge.web.deps import MetricsDep, RelayDep, SettingsDep

log = logging.getLogger(__name__)
router = APIRouter()

MAX_HOOK_BYTES = 1024 * 1024
# "{channel_id}_{account_id}": two uuids. Anything else names no scope, and must not reach the
# database as is (PostgreSQL refuses NUL; connection.scope_id is 160 wide).
SCOPE_ID = re.compile(r"[A-Za-z0-9_-]{1,160}")


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
async def amojo_webhook(
    scope_id: str, request: Request, relay: RelayDep, metrics: MetricsDep, settings: SettingsDep
) -> Response:
    started = time.perf_counter()
    body = await _read_capped(request)
    if body is None:
        metrics.hooks.labels(result="too_large").inc()
        return _error(413, "hook body is larger than 1 MiB")
    secret = settings.channel_secret.get_secret_value()
    if not verify_hook_signature(secret, body, request.headers.get("X-Signature")):
        metrics.hooks.labels(result="bad_signature").inc()
        return _error(401, "missing or wrong X-Signature")
    if SCOPE_ID.fullmatch(scope_id) is None:
        metrics.hooks.labels(result="unknown_scope").inc()
        return _error(404, "unknown scope")
    try:
        hook = parse_hook_body(body)
    except ValidationError as error:
        reason = describe_error(error)
        return await _reject(relay, metrics, scope_id, body, status=422, reason=reason)
    except ValueError as error:
        reason = f"hook body is not valid JSON ({error})"
        return await _reject(relay, metrics, scope_id, body, status=400, reason=reason)
    try:
        outcome = await relay.accept_hook(scope_id, hook, body)
    except UnknownScopeError:
        metrics.hooks.labels(result="unknown_scope").inc()
        return _error(404, "unknown scope")
    except ScopeMismatchError as error:
        metrics.hooks.labels(result="wrong_account").inc()
        log.warning("hook refused: %s (scope %s)", error, scope_id)
        return _error(403, str(error))
    if outcome == HookOutcome.STALE:
        log.info("stale %s hook dropped (scope %s)", hook.kind, scope_id)
    metrics.hooks.labels(result=outcome.value).inc()
    metrics.hook_ack.observe(time.perf_counter() - started)
    return Response(status_code=200)


async def _reject(
    relay: RelayDep, metrics: MetricsDep, scope_id: str, body: bytes, *, status: int, reason: str
) -> Response:
    try:
        await relay.reject_hook(scope_id, body, reason)
    except UnknownScopeError:
        metrics.hooks.labels(result="unknown_scope").inc()
        return _error(404, "unknown scope")
    metrics.hooks.labels(result="rejected").inc()
    return _error(status, reason)
