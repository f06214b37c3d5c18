"""POST /amojo/webhook/{scope_id} in-process: each refusal with its status and metric, and a
200 only once the hook is stored (tests/e2e/test_amojo_webhook.py runs it over loopback)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.amojo.signing import sign_hook
from bridge.jobs import JobKind
from storage.models import Job, JobStatus
from tests.bridge.web.conftest import CHANNEL_SECRET, Web, web_app
from tests.storage.rows import add_connection

SCOPE = "scope-c1"  # tests.storage.rows names the connection "c1" so


def hook(account_id: str = "account-c1", **message: Any) -> bytes:
    inner = {"id": "msg-1", "type": "text", "text": "hi"} | message
    return json.dumps(
        {
            "account_id": account_id,
            "time": 1,
            "message": {
                "receiver": {"id": "r", "client_id": "u", "name": "Anna"},
                "sender": {"id": "op", "name": "Operator"},
                "conversation": {"id": "chat-uuid", "client_id": "telegram-1-2"},
                "timestamp": 1,
                "msec_timestamp": 1000,
                "message": inner,
            },
        }
    ).encode()


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async with web_app(tmp_path) as web:
        await add_connection(web.container.store)
        yield web


async def post(
    web: Web, body: bytes, *, scope: str = SCOPE, signed: bool = True
) -> httpx.Response:
    headers = {"X-Signature": sign_hook(CHANNEL_SECRET, body)} if signed else {}
    return await web.http.post(f"/amojo/webhook/{scope}", content=body, headers=headers)


async def jobs(web: Web) -> list[Job]:
    async with web.container.store.read() as uow:
        return list(await uow.jobs.list())


def counted(web: Web, result: str) -> float | None:
    return web.container.metrics.registry.get_sample_value(
        "bridge_amojo_hooks_total", {"result": result}
    )


async def test_a_stored_hook_is_answered_200_and_is_a_queued_job(web: Web) -> None:
    answer = await post(web, hook(text="stored first"))
    assert (answer.status_code, answer.content) == (200, b"")
    [job] = await jobs(web)
    assert (job.kind, job.status, job.connection_id) == (
        JobKind.PROCESS_HOOK,
        JobStatus.TODO,
        "c1",
    )
    assert job.payload["hook"]["message"]["message"]["text"] == "stored first"
    assert counted(web, "stored") == 1


async def test_the_same_hook_again_is_200_and_stored_once(web: Web) -> None:
    body = hook()
    assert (await post(web, body)).status_code == 200
    assert (await post(web, body)).status_code == 200
    assert len(await jobs(web)) == 1
    assert counted(web, "duplicate") == 1


async def test_an_unsigned_or_wrongly_signed_hook_is_401_and_kept_nowhere(web: Web) -> None:
    body = hook()
    assert (await post(web, body, signed=False)).status_code == 401
    answer = await web.http.post(
        f"/amojo/webhook/{SCOPE}", content=body, headers=[(b"X-Signature", "ключ".encode())]
    )
    assert answer.status_code == 401
    assert answer.json() == {"error": "missing or wrong X-Signature"}
    assert await jobs(web) == []
    assert counted(web, "bad_signature") == 2


async def test_a_body_over_one_mebibyte_is_413_before_the_signature_is_checked(web: Web) -> None:
    answer = await post(web, b"x" * (1024 * 1024 + 1), signed=False)
    assert answer.status_code == 413
    assert counted(web, "too_large") == 1


@pytest.mark.parametrize("scope", ["no-such-scope", "bad%20scope", "x" * 161])
async def test_a_scope_that_is_unknown_or_malformed_is_404(web: Web, scope: str) -> None:
    answer = await post(web, hook(), scope=scope)
    assert (answer.status_code, answer.json()) == (404, {"error": "unknown scope"})
    assert await jobs(web) == []


async def test_a_hook_for_another_account_than_its_scopes_is_403(web: Web) -> None:
    answer = await post(web, hook(account_id="account-other"))
    assert answer.status_code == 403
    assert "account" in answer.json()["error"]
    assert await jobs(web) == []
    assert counted(web, "wrong_account") == 1


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"not json at all", 400, "not valid JSON"),
        (b'{"account_id": "account-c1"}', 422, ""),
    ],
)
async def test_a_signed_hook_that_cannot_be_read_is_refused_and_kept_as_rejected(
    web: Web, body: bytes, status: int, reason: str
) -> None:
    answer = await post(web, body)
    assert answer.status_code == status
    assert reason in answer.json()["error"]
    [job] = await jobs(web)
    assert (job.kind, job.status) == (JobKind.REJECTED_HOOK, JobStatus.FAILED)
    assert job.payload["raw"] == body.decode()
    assert counted(web, "rejected") == 1
