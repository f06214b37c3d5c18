"""How ``serve`` configures uvicorn, and the protocol's read deadlines over loopback."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pydantic import SecretStr

from bridge.settings import Settings
from bridge.web.server import (
    REQUEST_TIMEOUT,
    DeadlineProtocol,
    protocol_with_deadlines,
    server_config,
)
from emulators.loopback import LoopbackServer

GET = b"GET / HTTP/1.1\r\nhost: bridge\r\n\r\n"


async def ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body, then answers "ok"; answers nothing if the client went away."""
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_serve_takes_the_deadlines_and_the_connection_limit_from_the_settings() -> None:
    settings = Settings(
        channel_id=uuid.uuid4(),
        channel_secret=SecretStr("s"),
        host="127.0.0.2",
        port=9099,
        http_header_timeout=3.5,
        http_body_timeout=7.0,
        http_max_connections=42,
    )
    config = server_config(ok_app, settings)
    assert (config.host, config.port, config.limit_concurrency) == ("127.0.0.2", 9099, 42)
    assert isinstance(config.http, type) and issubclass(config.http, DeadlineProtocol)
    assert (config.http.header_timeout, config.http.body_timeout) == (3.5, 7.0)
    assert config.access_log is False and config.log_config is None


def test_each_protocol_class_keeps_its_own_deadlines() -> None:
    short, long = protocol_with_deadlines(1, 2), protocol_with_deadlines(10, 20)
    assert (short.header_timeout, short.body_timeout) == (1, 2)
    assert (long.header_timeout, long.body_timeout) == (10, 20)
    assert (DeadlineProtocol.header_timeout, DeadlineProtocol.body_timeout) == (10.0, 30.0)


async def exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` and read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()


async def test_headers_not_complete_in_time_get_408_and_the_connection_closed() -> None:
    async with LoopbackServer(ok_app, http=protocol_with_deadlines(0.1, 5)) as server:
        answer = await exchange(server.port, b"GET / HTTP/1.1\r\nhost: bri")
    assert answer == REQUEST_TIMEOUT


async def test_a_body_not_complete_in_time_closes_the_connection_without_an_answer() -> None:
    async with LoopbackServer(ok_app, http=protocol_with_deadlines(5, 0.1)) as server:
        request = b"POST / HTTP/1.1\r\nhost: bridge\r\ncontent-length: 10\r\n\r\nabc"
        answer = await exchange(server.port, request)
    assert answer == b""


async def test_a_complete_request_is_answered_by_the_app() -> None:
    async with LoopbackServer(ok_app, http=protocol_with_deadlines(5, 5)) as server:
        answer = await exchange(
            server.port, GET.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n")
        )
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(
        b"\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    )
