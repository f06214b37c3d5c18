"""POST /amojo/webhook/{scope_id} over real HTTP: every rejection, durability, duplicates."""

from __future__ import annotations

import httpx

from bridge.amojo.signing import sign_hook
from storage.models import Job
from tests.e2e.conftest import CUSTOMER, Connected


def hook_url(connected: Connected, scope_id: str | None = None) -> str:
    return f"{connected.bridge.bridge_url}/amojo/webhook/{scope_id or connected.scope_id}"


def secret(connected: Connected) -> str:
    return connected.bridge.settings.channel_secret.get_secret_value()


async def post(connected: Connected, body: bytes, signature: str | None, scope: str | None = None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Signature"] = signature
    async with httpx.AsyncClient() as client:
        return await client.post(hook_url(connected, scope), content=body, headers=headers)


async def hook_jobs(connected: Connected) -> list[Job]:
    async with connected.bridge.container.store.read() as uow:
        return await uow.jobs.list(kind="process_amojo_hook", limit=1000)


async def test_missing_or_wrong_signature_is_401(connected: Connected) -> None:
    await connected.customer_writes("Hi")
    _, body = connected.amojo.build_message_hook(
        connected.scope_id, connected.conversation_id(), "x"
    )
    assert (await post(connected, body, None)).status_code == 401
    assert (await post(connected, body, "0" * 40)).status_code == 401
    assert (
        await post(connected, body + b" ", sign_hook(secret(connected), body))
    ).status_code == 401
    assert await hook_jobs(connected) == []


async def test_unknown_scope_is_404(connected: Connected) -> None:
    body = b'{"account_id":"x","message":{}}'
    answer = await post(connected, body, sign_hook(secret(connected), body), scope="nope_nope")
    assert answer.status_code == 404


async def test_body_over_one_mebibyte_is_413(connected: Connected) -> None:
    body = b'{"pad":"' + b"x" * (1024 * 1024) + b'"}'
    answer = await post(connected, body, sign_hook(secret(connected), body))
    assert answer.status_code == 413


async def test_signed_body_that_is_not_json_is_400(connected: Connected) -> None:
    body = b"this is not json"
    answer = await post(connected, body, sign_hook(secret(connected), body))
    assert answer.status_code == 400
    assert "JSON" in answer.json()["error"]


async def test_200_means_the_hook_is_already_stored(connected: Connected) -> None:
    await connected.customer_writes("Hi")
    # Telegram hangs: if the route waited for delivery it could not answer at all.
    connected.telegram.hang_next("sendMessage")
    _, body = connected.amojo.build_message_hook(
        connected.scope_id, connected.conversation_id(), "stored first"
    )
    answer = await post(connected, body, sign_hook(secret(connected), body))
    assert answer.status_code == 200
    [job] = await hook_jobs(connected)
    assert job.payload["hook"]["message"]["message"]["text"] == "stored first"
    connected.telegram.release_hung()


async def test_the_same_hook_three_times_is_delivered_once(connected: Connected) -> None:
    await connected.customer_writes("Hi")
    hook_id, body = connected.amojo.build_message_hook(
        connected.scope_id, connected.conversation_id(), "only once"
    )
    for _ in range(3):
        assert await connected.amojo.post_hook(connected.scope_id, body) == 200
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
    await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), "next"
    )
    await connected.telegram.wait_for(lambda: len(connected.telegram.sent_to(CUSTOMER)) == 2)
    assert [m.params["text"] for m in connected.telegram.sent_to(CUSTOMER)] == [
        "only once",
        "next",
    ]
    assert len(await hook_jobs(connected)) == 2
    assert [s.amojo_msgid for s in connected.amojo.delivery_statuses].count(hook_id) == 1
