"""The amoCRM Chats API emulator, driven over real HTTP on loopback with a signing client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from bridge.amojo import signing
from emulators.amojo.app import AmojoEmulator
from emulators.amojo.records import ConnectionRecord
from emulators.loopback import LoopbackServer, bind_loopback

# the worked example of the spec, section 2
CHANNEL_ID = "344a5002-f8ca-454d-af3d-396180102ac7"
SECRET = "f2d7f8704eff95087ed45b23ba99c0b5aac8278e"
ACCOUNT = "52e591f7-c98f-4255-8495-827210138c81"
SCOPE = f"{CHANNEL_ID}_{ACCOUNT}"
BASE = "/v2/origin/custom"
CONNECT_BODY = (
    b'{"account_id":"52e591f7-c98f-4255-8495-827210138c81",'
    b'"title":"ChatsIntegration","hook_api_version":"v2"}'
)
FILE = {"file_name": "a.jpg", "file_size": 10}
SIGNATURE_ERROR = (
    b'{"status":0,"error_code":403,"error_type":"ORIGIN_INVALID_SIGNATURE",'
    b'"error_description":"invalid signature"}'
)


def dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def new_message(
    msgid: str = "m1",
    conversation_id: str = "conv-1",
    message: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "timestamp": 1_700_000_000,
        "msec_timestamp": 1_700_000_000_000,
        "msgid": msgid,
        "conversation_id": conversation_id,
        "silent": False,
        "sender": {"id": "user-1", "name": "Ivan"},
        "message": message or {"type": "text", "text": "hello"},
    }
    payload.update(fields)
    return {"event_type": "new_message", "payload": payload}


def signed_headers(
    method: str,
    path: str,
    body: bytes,
    *,
    content_type: str = "application/json",
    md5: str | None = None,
    date: str | None = None,
    secret: str = SECRET,
    signed_path: str | None = None,
) -> dict[str, str]:
    """Correctly signed headers over whatever values are given, to isolate one defect."""
    md5 = signing.content_md5(body) if md5 is None else md5
    date = signing.format_date(datetime.now(UTC)) if date is None else date
    to_sign = signing.string_to_sign(method, md5, content_type, date, signed_path or path)
    return {
        "Date": date,
        "Content-Type": content_type,
        "Content-MD5": md5,
        "X-Signature": signing.sign(secret, to_sign),
    }


@dataclass
class Env:
    emulator: AmojoEmulator
    client: httpx.AsyncClient  # signs every request with AmojoAuth
    raw: httpx.AsyncClient  # sends headers exactly as given
    url: str

    async def post(self, path: str, payload: Any) -> httpx.Response:
        return await self.client.post(path, content=dump(payload))

    async def connect(self, account_id: str = ACCOUNT) -> httpx.Response:
        body = {"account_id": account_id, "title": "Bridge", "hook_api_version": "v2"}
        return await self.post(f"{BASE}/{CHANNEL_ID}/connect", body)

    async def send(self, event: dict[str, Any], scope_id: str = SCOPE) -> httpx.Response:
        return await self.post(f"{BASE}/{scope_id}", event)

    async def status(self, amojo_id: str, body: dict[str, Any]) -> httpx.Response:
        return await self.post(f"{BASE}/{SCOPE}/{amojo_id}/delivery_status", body)

    async def history(self, chat_id: str, query: str = "") -> httpx.Response:
        return await self.client.get(f"{BASE}/{SCOPE}/chats/{chat_id}/history{query}")


@asynccontextmanager
async def running(**options: Any) -> AsyncIterator[Env]:
    emulator = AmojoEmulator(channel_id=CHANNEL_ID, channel_secret=SECRET, **options)
    async with (
        LoopbackServer(emulator.app) as server,
        httpx.AsyncClient(base_url=server.url, auth=signing.AmojoAuth(SECRET)) as client,
        httpx.AsyncClient(base_url=server.url) as raw,
    ):
        try:
            yield Env(emulator, client, raw, server.url)
        finally:
            await emulator.aclose()  # before the server stops: uvicorn waits for hung requests


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with running() as env:
        yield env


@pytest.fixture
async def connected(env: Env) -> Env:
    assert (await env.connect()).status_code == 200
    return env


@dataclass
class HookReceiver:
    received: list[tuple[str, bytes, bool]]
    url: str

    def hook(self, index: int = -1) -> dict[str, Any]:
        return json.loads(self.received[index][1])


@asynccontextmanager
async def hook_receiver() -> AsyncIterator[HookReceiver]:
    """A stand-in for the bridge's webhook endpoint: 200 when signed right, else 401."""
    app = FastAPI()
    received: list[tuple[str, bytes, bool]] = []

    @app.post("/amojo/webhook/{scope_id}")
    async def hook(scope_id: str, request: Request) -> Response:
        body = await request.body()
        ok = signing.verify_hook_signature(SECRET, body, request.headers.get("x-signature"))
        received.append((scope_id, body, ok))
        return Response(status_code=200 if ok else 401)

    async with LoopbackServer(app) as server:
        yield HookReceiver(received, f"{server.url}/amojo/webhook/:scope_id")


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"status", "error_code", "error_type", "error_description"}
    assert body["status"] == 0
    assert body["error_code"] == response.status_code
    return response.status_code, body["error_type"], body["error_description"]


# -- signing --------------------------------------------------------------------------------


async def test_documented_connect_example_verifies() -> None:
    frozen = datetime(2021, 12, 15, 23, 20, tzinfo=UTC)
    async with running(now=lambda: frozen) as env:
        headers = {
            "Date": "Wed, 15 Dec 2021 23:12:55 +0000",
            "Content-Type": "application/json",
            "Content-MD5": "2fbcb3c652b61e24e004daddfc73d0ce",
            "X-Signature": "81211856ce0c5095f3e1a90c0a38dc9d736cfd55",
        }
        assert len(CONNECT_BODY) == 104
        response = await env.raw.post(
            f"{BASE}/{CHANNEL_ID}/connect", content=CONNECT_BODY, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "account_id": ACCOUNT,
            "title": "ChatsIntegration",
            "hook_api_version": "v2",
            "is_time_window_disabled": False,
            "scope_id": SCOPE,
        }
        assert env.emulator.connections == {
            SCOPE: ConnectionRecord(SCOPE, ACCOUNT, "ChatsIntegration", "v2", True, False)
        }


async def test_documented_example_expires_after_15_minutes() -> None:
    later = datetime(2021, 12, 15, 23, 28, 0, tzinfo=UTC)
    async with running(now=lambda: later) as env:
        headers = signed_headers(
            "POST",
            f"{BASE}/{CHANNEL_ID}/connect",
            CONNECT_BODY,
            date="Wed, 15 Dec 2021 23:12:55 +0000",
        )
        response = await env.raw.post(
            f"{BASE}/{CHANNEL_ID}/connect", content=CONNECT_BODY, headers=headers
        )
        assert response.status_code == 403
        assert response.content == SIGNATURE_ERROR
        assert "15 minutes" in env.emulator.rejected[-1].detail
        assert env.emulator.connections == {}


async def test_bad_signature_answers_the_exact_envelope(env: Env) -> None:
    path = f"{BASE}/{CHANNEL_ID}/connect"
    headers = signed_headers("POST", path, CONNECT_BODY) | {"X-Signature": "0" * 40}
    response = await env.raw.post(path, content=CONNECT_BODY, headers=headers)
    assert response.status_code == 403
    assert response.content == SIGNATURE_ERROR
    rejected = env.emulator.rejected[-1]
    assert (rejected.method, rejected.path, rejected.status) == ("POST", path, 403)
    assert rejected.error_type == "ORIGIN_INVALID_SIGNATURE"


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("tampered body", "Content-MD5"),
        ("charset in Content-Type", "Content-Type"),
        ("upper-case Content-MD5", "Content-MD5"),
        ("-0000 date", "zone"),
        ("no Date", "RFC 2822"),
        ("wrong secret", "X-Signature"),
        ("query string signed", "X-Signature"),
        ("md5 of the body on a GET", "Content-MD5"),
    ],
)
async def test_signing_defects_are_refused(connected: Env, case: str, detail: str) -> None:
    env = connected
    path, body, method = f"{BASE}/{CHANNEL_ID}/connect", CONNECT_BODY, "POST"
    headers = signed_headers(method, path, body)
    query = ""
    if case == "tampered body":
        body = body.replace(b"ChatsIntegration", b"Hijacked")
    elif case == "charset in Content-Type":
        headers = signed_headers(
            method, path, body, content_type="application/json; charset=utf-8"
        )
    elif case == "upper-case Content-MD5":
        headers = signed_headers(method, path, body, md5=signing.content_md5(body).upper())
    elif case == "-0000 date":
        headers = signed_headers(method, path, body, date="Wed, 15 Dec 2021 23:12:55 -0000")
    elif case == "no Date":
        headers = signed_headers(method, path, body, date="")
        del headers["Date"]
    elif case == "wrong secret":
        headers = signed_headers(method, path, body, secret="f" * 40)
    else:
        method, path, query = "GET", f"{BASE}/{SCOPE}/chats/nope/history", "?offset=0&limit=5"
        body = b""
        if case == "query string signed":
            headers = signed_headers(method, path, body, signed_path=path + query)
        else:  # signed consistently, but over an MD5 that is not the empty body's
            headers = signed_headers(method, path, body, md5=signing.content_md5(b"x"))
    connections_before = len(env.emulator.connections)
    response = await env.raw.request(method, path + query, content=body or None, headers=headers)
    assert response.status_code == 403, case
    assert response.content == SIGNATURE_ERROR
    assert detail in env.emulator.rejected[-1].detail
    assert env.emulator.connections[SCOPE].title == "Bridge"
    assert len(env.emulator.connections) == connections_before


async def test_correctly_signed_get_with_query_passes(connected: Env) -> None:
    response = await connected.history("no-such-chat", "?offset=0&limit=5")
    assert response.status_code == 204
    assert response.content == b""


# -- connect / disconnect / scopes ----------------------------------------------------------


async def test_unknown_channel_and_unconnected_scope_are_404(env: Env) -> None:
    response = await env.post(f"{BASE}/00000000-0000-0000-0000-000000000000/connect", {})
    assert error_of(response)[:2] == (404, "ORIGIN_CHANNEL_NOT_FOUND")
    response = await env.send(new_message())
    assert error_of(response)[:2] == (404, "ORIGIN_SCOPE_NOT_FOUND")
    assert env.emulator.messages == []


async def test_disconnect_is_a_delete_with_json_body_and_closes_the_scope(connected: Env) -> None:
    env = connected
    assert (await env.send(new_message())).status_code == 200
    path = f"{BASE}/{CHANNEL_ID}/disconnect"
    response = await env.client.request("DELETE", path, content=b"")
    assert error_of(response)[:2] == (400, "ORIGIN_INVALID_JSON")
    response = await env.client.request("DELETE", path, content=dump({"account_id": ACCOUNT}))
    assert (response.status_code, response.content) == (200, b"")
    assert env.emulator.connections[SCOPE].connected is False
    response = await env.send(new_message("m2"))
    assert error_of(response)[:2] == (404, "ORIGIN_SCOPE_NOT_FOUND")
    # reconnecting reuses the scope and its chats
    assert (await env.connect()).json()["scope_id"] == SCOPE
    assert (await env.send(new_message("m2"))).status_code == 200
    assert len(env.emulator.chats) == 1


async def test_connect_needs_hook_api_version_v2(env: Env) -> None:
    path = f"{BASE}/{CHANNEL_ID}/connect"
    response = await env.post(path, {"account_id": ACCOUNT, "hook_api_version": "v1"})
    assert error_of(response)[0] == 400
    assert "hook_api_version" in error_of(response)[2]
    response = await env.post(path, {"account_id": ACCOUNT})
    assert "hook_api_version" in error_of(response)[2]
    assert env.emulator.connections == {}


async def test_private_channel_refuses_unapproved_account() -> None:
    async with running(allowed_accounts={"approved-account"}) as env:
        assert error_of(await env.connect())[:2] == (403, "ORIGIN_ACCOUNT_NOT_ALLOWED")
        assert (await env.connect("approved-account")).status_code == 200
        assert list(env.emulator.connections) == [f"{CHANNEL_ID}_approved-account"]


# -- new_message ----------------------------------------------------------------------------


async def test_new_message_creates_chat_and_answers_with_reversed_names(connected: Env) -> None:
    env = connected
    response = await env.send(new_message())
    assert response.status_code == 200, response.text
    record = env.emulator.messages[0]
    chat = env.emulator.chats[record.chat_id]
    assert response.json() == {
        "new_message": {
            "conversation_id": "conv-1",
            "sender_id": chat.user["id"],
            "receiver_id": None,
            "msgid": record.amojo_id,
            "ref_id": "m1",
        }
    }
    assert record.amojo_id != "m1"
    assert (chat.scope_id, chat.conversation_id, chat.contact_name) == (SCOPE, "conv-1", "Ivan")
    assert chat.user["client_id"] == "user-1"
    assert (await env.send(new_message("m2"))).status_code == 200
    assert len(env.emulator.chats) == 1
    assert [m.msgid for m in env.emulator.messages_for("conv-1")] == ["m1", "m2"]


async def test_outgoing_import_makes_the_receiver_the_chat_user(connected: Env) -> None:
    env = connected
    event = new_message(
        sender={"id": "manager-7", "name": "Anna", "ref_id": "amojo-user-7"},
        receiver={"id": "user-1", "name": "Ivan", "profile": {"phone": "+79990000000"}},
    )
    response = await env.send(event)
    assert response.status_code == 200, response.text
    chat = next(iter(env.emulator.chats.values()))
    assert chat.user["client_id"] == "user-1"
    assert chat.user["phone"] == "+79990000000"
    assert response.json()["new_message"]["sender_id"] == "amojo-user-7"
    assert response.json()["new_message"]["receiver_id"] == chat.user["id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timestamp": "1700000000"}, "payload.timestamp"),
        ({"msec_timestamp": True}, "payload.msec_timestamp"),
        ({"silent": "false"}, "payload.silent"),
        ({"msgid": 42}, "payload.msgid"),
        ({"conversation_id": None}, "payload.conversation_id"),
        (
            {
                "message": {"type": "picture", "media": "https://x/a.jpg"}
                | FILE
                | {"file_size": "1"}
            },
            "payload.message.file_size",
        ),
        (
            {"message": {"type": "location", "location": {"lat": "55.7", "lon": 37.6}}},
            "payload.message.location.lat",
        ),
        (
            {"message": {"type": "voice", "media": "https://x/v.ogg", "media_duration": 1.5}},
            "media_duration",
        ),
    ],
)
async def test_strict_types_are_enforced(
    connected: Env, change: dict[str, Any], field: str
) -> None:
    event = new_message()
    event["payload"].update(change)
    response = await connected.send(event)
    status, error_type, description = error_of(response)
    assert (status, error_type) == (400, "ORIGIN_INVALID_FIELD")
    assert field in description
    assert connected.emulator.messages == []
    assert connected.emulator.chats == {}


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (
            {"type": "picture", "media": "https://x/a.jpg", "file_size": 10},
            "payload.message.file_name",
        ),
        ({"type": "file", "media": "https://x/a.pdf", "file_name": "a.pdf"}, "file_size"),
        ({"type": "video", "file_name": "v.mp4", "file_size": 1}, "payload.message.media"),
        ({"type": "text"}, "payload.message.text"),
        ({"type": "text", "text": ""}, "payload.message.text"),
        ({"type": "voice"}, "payload.message.media"),
        ({"type": "sticker", "media": "tg-file-id-123"}, "http(s) URL"),
        ({"type": "location", "location": {"lat": 55.7}}, "payload.message.location.lon"),
        ({"type": "contact", "contact": {"name": "Bob"}}, "payload.message.contact.phone"),
        ({"type": "gif", "media": "https://x/a.gif"}, "payload.message.type"),
    ],
)
async def test_required_fields_per_message_type(
    connected: Env, message: dict[str, Any], field: str
) -> None:
    response = await connected.send(new_message(message=message))
    assert error_of(response)[0] == 400
    assert field in error_of(response)[2]
    assert connected.emulator.messages == []


async def test_envelope_level_errors(connected: Env) -> None:
    env = connected
    response = await env.client.post(f"{BASE}/{SCOPE}", content=b"{not json")
    assert error_of(response)[:2] == (400, "ORIGIN_INVALID_JSON")
    event = new_message()
    del event["payload"]["sender"]["name"]
    assert "payload.sender.name" in error_of(await env.send(event))[2]
    response = await env.send({"event_type": "delete_message", "payload": {}})
    assert "event_type" in error_of(response)[2]
    assert len(env.emulator.rejected) == 3


async def test_location_accepts_integer_coordinates(connected: Env) -> None:
    message = {"type": "location", "location": {"lat": 55, "lon": 37.6}}
    response = await connected.send(new_message(message=message))
    assert response.status_code == 200, response.text


async def test_duplicate_msgid_is_an_error_by_default(connected: Env) -> None:
    env = connected
    assert (await env.send(new_message())).status_code == 200
    response = await env.send(new_message())
    assert error_of(response)[:2] == (400, "DUPLICATE_MSGID")
    assert len(env.emulator.messages) == 1
    assert env.emulator.duplicates == ["m1"]


async def test_duplicate_msgid_can_be_idempotent() -> None:
    async with running(duplicate_msgid="idempotent") as env:
        await env.connect()
        first = await env.send(new_message())
        again = await env.send(new_message(message={"type": "text", "text": "changed"}))
        assert (again.status_code, again.json()) == (200, first.json())
        assert len(env.emulator.messages) == 1
        assert env.emulator.messages[0].message["text"] == "hello"


async def test_reply_to_must_quote_a_message_of_the_same_chat(connected: Env) -> None:
    env = connected
    first = (await env.send(new_message())).json()["new_message"]
    assert (await env.send(new_message("other", "conv-2"))).status_code == 200
    cross_chat = new_message("m2", "conv-2", reply_to={"message": {"msgid": "m1"}})
    assert "reply_to" in error_of(await env.send(cross_chat))[2]
    unknown = new_message("m2", reply_to={"message": {"id": "no-such-id"}})
    assert error_of(await env.send(unknown))[0] == 400
    by_msgid = new_message("m2", reply_to={"message": {"msgid": "m1"}})
    by_id = new_message("m3", reply_to={"message": {"id": first["msgid"]}})
    assert (await env.send(by_msgid)).status_code == 200
    assert (await env.send(by_id)).status_code == 200
    assert len(env.emulator.messages) == 4


async def test_edit_message(connected: Env) -> None:
    env = connected
    await env.send(new_message())
    edit = {
        "event_type": "edit_message",
        "payload": {
            "timestamp": 1_700_000_100,
            "msec_timestamp": 1_700_000_100_000,
            "msgid": "m1",
            "conversation_id": "conv-1",
            "message": {"type": "text", "text": "edited"},
        },
    }
    response = await env.send(edit)
    assert response.status_code == 200, response.text
    assert env.emulator.messages[0].message["text"] == "edited"
    assert [(e.msgid, e.amojo_id) for e in env.emulator.edits] == [
        ("m1", env.emulator.messages[0].amojo_id)
    ]
    edit["payload"]["msgid"] = "never-sent"
    assert error_of(await env.send(edit))[:2] == (404, "ORIGIN_MESSAGE_NOT_FOUND")
    edit["payload"] |= {"msgid": "m1", "conversation_id": "conv-unknown"}
    assert error_of(await env.send(edit))[:2] == (404, "ORIGIN_CHAT_NOT_FOUND")
    assert len(env.emulator.edits) == 1


async def test_edit_with_id_and_msgid_attaches_our_id_to_an_operator_message(
    connected: Env,
) -> None:
    env = connected
    await env.send(new_message())
    operator_id, _ = env.emulator.build_message_hook(SCOPE, "conv-1", "from amoCRM")
    edit = {
        "event_type": "edit_message",
        "payload": {
            "id": operator_id,
            "msgid": "ours-for-operator",
            "conversation_id": "conv-1",
            "message": {"type": "text", "text": "from amoCRM"},
        },
    }
    assert (await env.send(edit)).status_code == 200
    chat_id = env.emulator.messages[0].chat_id
    newest = (await env.history(chat_id, "?limit=1")).json()["messages"][0]["message"]
    assert (newest["id"], newest["client_id"]) == (operator_id, "ours-for-operator")


async def test_create_chat_is_idempotent(connected: Env) -> None:
    env = connected
    body = {
        "conversation_id": "conv-9",
        "source": {"external_id": "bot-1"},
        "user": {"id": "user-9", "name": "Olga", "profile": {"email": "o@example.com"}},
    }
    first = await env.post(f"{BASE}/{SCOPE}/chats", body)
    second = await env.post(f"{BASE}/{SCOPE}/chats", body)
    assert first.status_code == 200, first.text
    assert first.json() == second.json()
    chat = env.emulator.chats[first.json()["id"]]
    assert first.json()["user"] == chat.user
    assert (chat.user["client_id"], chat.source_external_id) == ("user-9", "bot-1")
    assert chat.created_by == "create_chat"
    # a chat with no messages has no history yet
    assert (await env.history(chat.chat_id)).status_code == 204
    body["source"] = {"external_id": "x" * 41}
    assert "source.external_id" in error_of(await env.post(f"{BASE}/{SCOPE}/chats", body))[2]


# -- delivery status ------------------------------------------------------------------------


async def test_delivery_status_rules(connected: Env) -> None:
    env = connected
    incoming = (await env.send(new_message())).json()["new_message"]["msgid"]
    outgoing, _ = env.emulator.build_message_hook(SCOPE, "conv-1", "operator reply")

    def body(**fields: Any) -> dict[str, Any]:
        return {"msgid": outgoing, "delivery_status": 1} | fields

    unknown = await env.status("no-such-message", body(msgid="no-such-message"))
    assert error_of(unknown)[:2] == (404, "ORIGIN_MESSAGE_NOT_FOUND")
    not_a_hook = await env.status(incoming, body(msgid=incoming))
    assert error_of(not_a_hook)[:2] == (404, "ORIGIN_MESSAGE_NOT_FOUND")
    invalid = [
        (body(msgid="m1"), "msgid"),
        (body(delivery_status="1"), "delivery_status"),
        (body(delivery_status=3), "delivery_status"),
        (body(delivery_status=True), "delivery_status"),
        (body(delivery_status=-1), "error_code"),
        (body(delivery_status=-1, error_code=900), "error_code"),
        (body(delivery_status=-1, error_code="905", error="x"), "error_code"),
        (body(delivery_status=-1, error_code=905), "error"),
        (body(error_code=901), "error_code"),
    ]
    for payload, field in invalid:
        status, _, description = error_of(await env.status(outgoing, payload))
        assert (status, field in description) == (400, True), (payload, description)
    valid = [
        body(delivery_status=-1, error_code=905, error="Bot was blocked by the user"),
        body(delivery_status=-1, error_code=901),
        body(delivery_status=2),
    ]
    for payload in valid:
        response = await env.status(outgoing, payload)
        assert (response.status_code, response.content) == (200, b""), response.text
    assert [(d.scope_id, d.amojo_msgid, d.body) for d in env.emulator.delivery_statuses] == [
        (SCOPE, outgoing, payload) for payload in valid
    ]


# -- history, typing, reactions -------------------------------------------------------------


async def test_history_is_newest_first_and_carries_client_id(connected: Env) -> None:
    env = connected
    # imported out of order: history sorts by time, not by arrival
    for msgid, second in (("m2", 20), ("m1", 10), ("m3", 30)):
        event = new_message(msgid, timestamp=1_700_000_000 + second)
        event["payload"]["msec_timestamp"] = (1_700_000_000 + second) * 1000
        assert (await env.send(event)).status_code == 200
    chat_id = env.emulator.messages[0].chat_id
    operator_id, _ = env.emulator.build_message_hook(SCOPE, "conv-1", "operator")

    page = (await env.history(chat_id, "?offset=0&limit=2")).json()["messages"]
    assert page[0]["message"]["id"] == operator_id
    assert "client_id" not in page[0]["message"]
    assert page[1]["message"]["client_id"] == "m3"
    assert page[1]["message"]["text"] == "hello"
    assert page[1]["sender"]["client_id"] == "user-1"
    rest = (await env.history(chat_id, "?offset=2&limit=50")).json()["messages"]
    assert [m["message"]["client_id"] for m in rest] == ["m2", "m1"]
    assert (await env.history(chat_id, "?offset=4&limit=2")).status_code == 204
    assert "limit" in error_of(await env.history(chat_id, "?limit=51"))[2]
    assert "offset" in error_of(await env.history(chat_id, "?offset=-1"))[2]


async def test_typing_and_react(connected: Env) -> None:
    env = connected
    typing = {"conversation_id": "conv-1", "sender": {"id": "user-1"}}
    assert error_of(await env.post(f"{BASE}/{SCOPE}/typing", typing))[0] == 404
    amojo_id = (await env.send(new_message())).json()["new_message"]["msgid"]
    response = await env.post(f"{BASE}/{SCOPE}/typing", typing)
    assert (response.status_code, response.content) == (204, b"")
    assert env.emulator.typing[0]["body"] == typing

    react_path = f"{BASE}/{SCOPE}/react"
    reaction = {"conversation_id": "conv-1", "msgid": "m1", "user": {"id": "user-1"}}
    assert "emoji" in error_of(await env.post(react_path, reaction | {"type": "react"}))[2]
    assert "type" in error_of(await env.post(react_path, reaction | {"type": "like"}))[2]
    missing = reaction | {"msgid": "nope", "type": "unreact"}
    assert error_of(await env.post(react_path, missing))[:2] == (404, "ORIGIN_MESSAGE_NOT_FOUND")
    ok = await env.post(react_path, reaction | {"type": "react", "emoji": "👍"})
    assert (ok.status_code, ok.content) == (200, b"")
    by_id = {"conversation_id": "conv-1", "id": amojo_id, "user": {"id": "user-1"}}
    assert (await env.post(react_path, by_id | {"type": "unreact"})).status_code == 200
    assert [r["amojo_id"] for r in env.emulator.reactions] == [amojo_id, amojo_id]


async def test_unknown_route_answers_an_empty_404(env: Env) -> None:
    response = await env.client.get(f"{BASE}/a/b/c/d/e")
    assert (response.status_code, response.content) == (404, b"")
    assert env.emulator.rejected[-1].status == 404


# -- faults ---------------------------------------------------------------------------------


async def test_fail_next_hits_only_matching_kinds_then_recovers(env: Env) -> None:
    env.emulator.fail_next(2, 503, kinds={"new_message"})
    assert (await env.connect()).status_code == 200
    for _ in range(2):
        response = await env.send(new_message())
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
    assert env.emulator.messages == []
    assert (await env.send(new_message())).status_code == 200
    env.emulator.fail_next(1, 429)
    assert error_of(await env.send(new_message("m2")))[:2] == (429, "EMULATED_FAULT")
    env.emulator.fail_next(1, 500)
    assert error_of(await env.send(new_message("m2")))[0] == 500
    assert (await env.send(new_message("m2"))).status_code == 200
    with pytest.raises(ValueError, match="unknown request kinds"):
        env.emulator.fail_next(1, kinds={"nonsense"})


async def test_faults_come_before_the_signature_check(connected: Env) -> None:
    env = connected
    env.emulator.fail_next(1, 502)
    path = f"{BASE}/{SCOPE}"
    response = await env.raw.post(path, content=b"junk", headers={"X-Signature": "bad"})
    assert response.status_code == 502
    assert not any(r.status == 403 for r in env.emulator.rejected)


async def test_fail_until_is_an_outage_window(connected: Env) -> None:
    env = connected
    env.emulator.fail_until(time.monotonic() + 60)
    assert (await env.send(new_message())).status_code == 503
    assert (await env.history("x")).status_code == 503
    env.emulator.fail_until(time.monotonic())  # the window has closed
    assert (await env.send(new_message())).status_code == 200


async def test_hang_next_makes_the_client_time_out(connected: Env) -> None:
    env = connected
    env.emulator.hang_next(1, kinds={"new_message"})
    timeout = httpx.Timeout(5.0, read=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await env.client.post(f"{BASE}/{SCOPE}", content=dump(new_message()), timeout=timeout)
    assert env.emulator.messages == []
    assert (await env.send(new_message())).status_code == 200


async def test_hang_with_process_loses_only_the_answer(connected: Env) -> None:
    env = connected
    env.emulator.hang_next(1, kinds={"new_message"}, process=True)
    timeout = httpx.Timeout(5.0, read=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await env.client.post(f"{BASE}/{SCOPE}", content=dump(new_message()), timeout=timeout)
    assert [m.msgid for m in env.emulator.messages] == ["m1"]
    # the retry is a duplicate; history tells the bridge it was delivered after all
    assert error_of(await env.send(new_message()))[1] == "DUPLICATE_MSGID"
    history = (await env.history(env.emulator.messages[0].chat_id)).json()["messages"]
    assert [m["message"]["client_id"] for m in history] == ["m1"]


async def test_release_hung_answers_a_waiting_request(connected: Env) -> None:
    env = connected
    env.emulator.hang_next(1)
    pending = asyncio.create_task(env.send(new_message()))
    await env.emulator.wait_for(lambda: env.emulator.hanging == 1, timeout=5)
    assert not pending.done()
    env.emulator.release_hung()
    response = await pending
    assert response.status_code == 503
    assert env.emulator.messages == []
    await env.emulator.wait_for(lambda: env.emulator.hanging == 0, timeout=5)


# -- operator side (hooks) ------------------------------------------------------------------


async def test_operator_message_hook_is_signed_and_shaped(connected: Env) -> None:
    env = connected
    quoted = (await env.send(new_message())).json()["new_message"]["msgid"]
    async with hook_receiver() as receiver:
        env.emulator.hook_url_template = receiver.url
        markup = {"mode": "inline", "buttons": [[{"text": "Yes"}, {"text": "No"}]]}
        sent = await env.emulator.send_operator_message(
            SCOPE, "conv-1", "Привет", markup=markup, reply_to=quoted, media_group_id="g1"
        )
    assert sent.status == 200
    assert receiver.received == [(SCOPE, sent.body, True)]
    assert b", " not in sent.body and b'": ' not in sent.body  # compact JSON
    hook = receiver.hook()
    chat = env.emulator.chats[sent.chat_id]
    assert hook["account_id"] == ACCOUNT
    assert isinstance(hook["time"], int)
    assert hook["message"]["conversation"] == {"id": chat.chat_id, "client_id": "conv-1"}
    assert hook["message"]["receiver"] == {
        "id": chat.user["id"],
        "client_id": "user-1",
        "phone": "",
        "email": "",
        "name": "Ivan",
    }
    assert hook["message"]["sender"] == {"id": env.emulator.operator_id, "name": "Operator"}
    content = hook["message"]["message"]
    assert (content["id"], content["type"], content["text"]) == (sent.id, "text", "Привет")
    assert (content["markup"], content["media_group_id"]) == (markup, "g1")
    assert content["reply_to"]["message"]["id"] == quoted
    assert content["reply_to"]["message"]["msgid"] == "m1"
    delivery = env.emulator.hook_responses[-1]
    assert (delivery.scope_id, delivery.kind, delivery.message_id, delivery.status) == (
        SCOPE,
        "message",
        sent.id,
        200,
    )
    status = await env.status(sent.id, {"msgid": sent.id, "delivery_status": 1})
    assert status.status_code == 200


async def test_tampered_or_unsigned_hooks_are_refused_by_the_receiver(connected: Env) -> None:
    env = connected
    await env.send(new_message())
    message_id, body = env.emulator.build_message_hook(SCOPE, "conv-1", "original")
    async with hook_receiver() as receiver:
        env.emulator.hook_url_template = receiver.url
        good_signature = signing.sign_hook(SECRET, body)
        tampered = body.replace(b"original", b"tampered")
        assert await env.emulator.post_hook(SCOPE, tampered, signature=good_signature) == 401
        assert await env.emulator.post_hook(SCOPE, body, signature=None) == 401
        assert await env.emulator.post_hook(SCOPE, body) == 200
        assert await env.emulator.post_hook(SCOPE, body) == 200  # duplicates are the bridge's job
    assert [ok for _, _, ok in receiver.received] == [False, False, True, True]
    assert [d.status for d in env.emulator.hook_responses] == [401, 401, 200, 200]
    assert {d.message_id for d in env.emulator.hook_responses} == {message_id}


async def test_typing_and_reaction_hooks(connected: Env) -> None:
    env = connected
    amojo_id = (await env.send(new_message())).json()["new_message"]["msgid"]
    chat_id = env.emulator.messages[0].chat_id
    conversation = {"id": chat_id, "client_id": "conv-1"}
    async with hook_receiver() as receiver:
        env.emulator.hook_url_template = receiver.url
        assert await env.emulator.send_typing_hook(SCOPE, "conv-1") == 200
        assert await env.emulator.send_reaction_hook(SCOPE, "conv-1", amojo_id, "🔥") == 200
        assert (
            await env.emulator.send_reaction_hook(SCOPE, "conv-1", amojo_id, None, "unreact")
            == 200
        )
    typing = receiver.hook(0)["action"]["typing"]
    assert typing["user"] == {"id": env.emulator.operator_id}
    assert typing["conversation"] == conversation
    assert typing["expired_at"] == receiver.hook(0)["time"] + 5
    react = receiver.hook(1)["action"]["reaction"]
    assert react == {
        "message": {"id": amojo_id, "client_id": "m1"},
        "user": {"id": env.emulator.operator_id},
        "conversation": conversation,
        "type": "react",
        "emoji": "🔥",
    }
    assert "emoji" not in receiver.hook(2)["action"]["reaction"]
    assert [d.kind for d in env.emulator.hook_responses] == ["typing", "reaction", "reaction"]


async def test_operator_needs_a_conversation_the_customer_started(connected: Env) -> None:
    env = connected
    env.emulator.hook_url_template = "http://127.0.0.1:9/:scope_id"
    with pytest.raises(LookupError, match="write first"):
        await env.emulator.send_operator_message(SCOPE, "conv-1", "hi")
    with pytest.raises(LookupError, match="not connected"):
        await env.emulator.send_operator_message(f"{CHANNEL_ID}_other", "conv-1", "hi")
    assert env.emulator.hook_responses == []


async def test_hook_to_an_unreachable_bridge_records_no_answer(connected: Env) -> None:
    env = connected
    await env.send(new_message())
    closed = bind_loopback()
    port = closed.getsockname()[1]
    closed.close()
    env.emulator.hook_url_template = f"http://127.0.0.1:{port}/amojo/:scope_id"
    sent = await env.emulator.send_operator_message(SCOPE, "conv-1", "hi")
    assert sent.status == 0
    assert env.emulator.hook_responses[-1].error is not None
    # the message exists in amoCRM all the same, so the bridge may still report on it
    assert env.emulator.operator_messages[-1].amojo_id == sent.id


# -- waiting and standalone control ---------------------------------------------------------


async def test_wait_for_wakes_on_a_state_change(connected: Env) -> None:
    env = connected
    seen: list[int] = []

    def one_message() -> bool:
        seen.append(len(env.emulator.messages))
        return len(env.emulator.messages) == 1

    waiter = asyncio.create_task(env.emulator.wait_for(one_message, timeout=5))
    assert (await env.send(new_message())).status_code == 200
    await waiter
    assert seen[0] == 0  # it really waited, and a notification woke it
    assert seen[-1] == 1


async def test_wait_for_times_out_with_a_readable_error(env: Env) -> None:
    def never_true() -> bool:
        return False

    with pytest.raises(TimeoutError, match=r"never_true still false after 0\.05s"):
        await env.emulator.wait_for(never_true, timeout=0.05)


async def test_control_endpoints(connected: Env) -> None:
    env = connected
    await env.send(new_message())
    async with hook_receiver() as receiver:
        env.emulator.hook_url_template = receiver.url
        response = await env.raw.post(
            "/__emulator__/operator_message",
            json={"scope_id": SCOPE, "conversation_id": "conv-1", "text": "bench"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == 200
        missing = await env.raw.post(
            "/__emulator__/operator_message",
            json={"scope_id": SCOPE, "conversation_id": "nope", "text": "x"},
        )
        assert missing.status_code == 400
    summary = (await env.raw.get("/__emulator__/summary")).json()
    assert (summary["messages"], summary["operator_messages"], summary["hook_responses"]) == (
        1,
        1,
        1,
    )
