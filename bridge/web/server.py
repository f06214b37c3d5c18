"""How ``serve`` runs the web app under uvicorn, hardened against slow and stalled clients.

uvicorn bounds idle keep-alive connections but not a request being read: a client that sends
its headers, or its body, one byte at a time (or opens a connection and sends nothing) holds
the connection for as long as it likes, and enough of them exhaust the process's file
descriptors. So the HTTP protocol here is uvicorn's own (httptools) with two read deadlines
added at the parser's events, where the state of the request is known exactly:

- from a connection's opening, or a request's first byte, to the end of its headers;
- from the end of the headers to the end of the body.

A deadline at the protocol closes the one connection it belongs to, from the event loop's
timer, without a task per connection and without touching requests that are complete (the app
may take its time answering them; the download behind /media streams for as long as it needs).
A wrapper ASGI middleware could not do this: it runs only once the headers are complete, and
cannot close a connection whose headers never are.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bridge.settings import Settings

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 33\r\n"
    b"connection: close\r\n\r\n"
    b"request not received in good time"
)
# Descriptors beyond the connections: the database, Telegram and Chats API pools, logs.
SPARE_FILES = 256


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header and a body read deadline (see the module)."""

    header_timeout: ClassVar[float] = 10.0
    body_timeout: ClassVar[float] = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, self._headers_late)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # The next request on a kept-alive connection: uvicorn's keep-alive timer stopped at
        # its first byte, this one starts.
        if self._deadline is None:
            self._arm(self.header_timeout, self._headers_late)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout, self._body_late)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # No request of this connection is being answered: a 408 cannot interleave a response.
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(REQUEST_TIMEOUT)
        log.debug("closed a connection: request headers not complete in %gs", self.header_timeout)
        self.transport.close()

    def _body_late(self) -> None:
        # The app is already reading this body: closing makes its read end (http.disconnect).
        self._deadline = None
        if not self.transport.is_closing():
            log.debug("closed a connection: request body not complete in %gs", self.body_timeout)
            self.transport.close()


def protocol_with_deadlines(header: float, body: float) -> type[DeadlineProtocol]:
    """uvicorn builds its protocol from a class: one with these deadlines."""
    return type(
        "DeadlineProtocol", (DeadlineProtocol,), {"header_timeout": header, "body_timeout": body}
    )


def server_config(app: Any, settings: Settings) -> uvicorn.Config:
    """The one uvicorn configuration of ``serve``."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol_with_deadlines(settings.http_header_timeout, settings.http_body_timeout),
        # Beyond this many open connections a request is answered 503 at once.
        limit_concurrency=settings.http_max_connections,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def ensure_open_files(connections: int) -> None:
    """Raise the soft limit on open files (often 1024) so that the connection limit, not the
    descriptors, is what bounds the server; as far as the hard limit allows."""
    needed = connections + SPARE_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning(
            "open files are limited to %d: fewer than BRIDGE_HTTP_MAX_CONNECTIONS=%d need",
            target,
            connections,
        )
