"""Run an ASGI app under uvicorn on a free loopback port, inside the current event loop.

The socket is bound and listening before uvicorn starts, so a client may connect at once:
the kernel queues the connection until uvicorn accepts it (no readiness polling needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import uvicorn


def bind_loopback(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    # With an explicit protocol number asyncio turns Nagle off; without it, every small
    # response waits ~40 ms for a delayed ACK.
    sock.setblocking(False)
    return sock


class LoopbackServer:
    """``async with LoopbackServer(app) as server: server.url`` → ``http://127.0.0.1:<port>``."""

    def __init__(self, app: Any, port: int = 0, **uvicorn_options: Any) -> None:
        self._app = app
        self._sock = bind_loopback(port)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        options: dict[str, Any] = {"log_level": "warning", "lifespan": "on", "access_log": False}
        options.update(uvicorn_options)
        self._server = uvicorn.Server(uvicorn.Config(app, **options))
        self._task: asyncio.Task[None] | None = None

    def set_app(self, app: Any) -> None:
        """Swap the app before ``start()``: lets an app be built knowing its own port."""
        self._server.config.app = app

    async def start(self) -> None:
        self._server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        # Lifespan startup runs before the socket is served; wait for it so that callers
        # see a started app (and its startup errors) before they go on.
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sock.close()

    async def __aenter__(self) -> LoopbackServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
