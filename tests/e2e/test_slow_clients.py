"""Slow and stalled HTTP clients against the real ``amo-bridge serve``: cut off at the read
deadlines, while amoCRM's signed hooks keep being acknowledged at once."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.conftest import CUSTOMER, TOKEN, Deployment

pytestmark = pytest.mark.e2e

HEADER_DEADLINE, BODY_DEADLINE = 4.0, 5.0
# Closing is checked by the client, in a loop busy with a thousand others: some slack.
# Without the deadlines these connections stay open for good (bounded here by MAX_BYTES).
SLACK = 2.5
PACE = 1.0  # the slow client sends one more byte whenever the server stayed silent this long
MAX_BYTES = 40  # bounds every client's loop (40 s at PACE) whatever the server does


@dataclass
class Outcome:
    kind: str
    answer: bytes
    open_for: float  # from the moment the deadline started to the server closing
    closed: bool


async def slow_client(port: int, kind: str, scope_id: str, holding: asyncio.Queue[str]) -> Outcome:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    trickle = iter(b"a" * MAX_BYTES)
    if kind == "headers":
        # Headers that never end, a byte at a time (a slowloris).
        started = time.monotonic()
        writer.write(
            f"POST /amojo/webhook/{scope_id} HTTP/1.1\r\nHost: bridge\r\nX-Slow: ".encode()
        )
    elif kind == "body":
        # Complete headers, then a 1000-byte body that comes a byte at a time.
        writer.write(
            f"POST /amojo/webhook/{scope_id} HTTP/1.1\r\nHost: bridge\r\n"
            "Content-Type: application/json\r\nX-Signature: 00\r\nContent-Length: 1000\r\n\r\n{"
            "".encode()
        )
        started = time.monotonic()
    else:
        # A kept-alive connection: one complete request, then the next one's headers stall.
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bridge\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.lower().splitlines()
            if b"content-length" in line
        )
        await reader.readexactly(length)
        trickle = iter(b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * MAX_BYTES)
        writer.write(bytes([next(trickle)]))
        started = time.monotonic()
    holding.put_nowait(kind)
    answer, closed = b"", False
    for _ in range(MAX_BYTES):
        try:
            chunk = await asyncio.wait_for(reader.read(4096), PACE)
        except TimeoutError:
            writer.write(bytes([next(trickle)]))
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            closed = True
            break
        answer += chunk
    open_for = time.monotonic() - started
    writer.close()
    return Outcome(kind, answer, open_for, closed)


async def test_slow_clients_are_cut_off_while_signed_hooks_are_acknowledged(
    deployment: Deployment,
) -> None:
    amojo, telegram = deployment.amojo, deployment.telegram
    deployment.env.update(
        BRIDGE_HTTP_HEADER_TIMEOUT=str(HEADER_DEADLINE),
        BRIDGE_HTTP_BODY_TIMEOUT=str(BODY_DEADLINE),
    )
    server = await deployment.start()
    telegram.user_sends_text(TOKEN, CUSTOMER, "hello")
    await amojo.wait_for(lambda: len(amojo.messages) == 1, timeout=30)
    conversation = amojo.messages[0].conversation_id

    kinds = ["headers"] * 500 + ["body"] * 500 + ["kept-alive"] * 50
    holding: asyncio.Queue[str] = asyncio.Queue()
    clients = [
        asyncio.create_task(slow_client(deployment.port, kind, deployment.scope_id, holding))
        for kind in kinds
    ]
    async with asyncio.timeout(30):  # every slow client connected and stalling
        for _ in kinds:
            await holding.get()
    assert not any(client.done() for client in clients)
    for n in range(10):
        reply = await amojo.send_operator_message(deployment.scope_id, conversation, f"r{n}")
        assert reply.status == 200
        assert amojo.hook_responses[-1].elapsed < 1.0, amojo.hook_responses[-1]

    outcomes = await asyncio.wait_for(asyncio.gather(*clients), MAX_BYTES * PACE + 10)
    for outcome in outcomes:
        deadline = BODY_DEADLINE if outcome.kind == "body" else HEADER_DEADLINE
        assert outcome.closed, outcome
        assert outcome.open_for <= deadline + SLACK, outcome
        if outcome.kind != "body":
            assert outcome.answer.startswith(b"HTTP/1.1 408 "), outcome
    # The server is none the worse: the hooks were relayed, and it stops cleanly.
    await telegram.wait_for(lambda: len(telegram.sent_to(CUSTOMER)) == 10, timeout=30)
    server.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(server.wait(), 15) == 0, deployment.logs()
    assert "Traceback" not in deployment.logs()


async def test_beyond_the_connection_limit_requests_get_503_until_stalled_ones_are_cut(
    deployment: Deployment,
) -> None:
    deployment.env.update(
        BRIDGE_HTTP_HEADER_TIMEOUT=str(HEADER_DEADLINE), BRIDGE_HTTP_MAX_CONNECTIONS="20"
    )
    server = await deployment.start()
    holding: asyncio.Queue[str] = asyncio.Queue()
    clients = [
        asyncio.create_task(slow_client(deployment.port, "headers", deployment.scope_id, holding))
        for _ in range(25)
    ]
    async with asyncio.timeout(30):
        for _ in clients:
            await holding.get()
    async with httpx.AsyncClient(trust_env=False) as http:
        url = f"http://127.0.0.1:{deployment.port}/healthz"
        assert (await http.get(url)).status_code == 503
        await asyncio.wait_for(asyncio.gather(*clients), MAX_BYTES * PACE + 10)
        assert (await http.get(url)).status_code == 200
    server.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(server.wait(), 15) == 0, deployment.logs()
