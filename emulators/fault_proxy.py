"""A TCP proxy on loopback that can cut connections mid-request (what an ASGI app cannot do).

Put it between the bridge and an emulator; ``drop_next(n)`` makes the next ``n`` requests
lose their connection after the request was sent and before any answer, the way a broken
load balancer or a network partition looks to an HTTP client.
"""

from __future__ import annotations

import asyncio
import contextlib

from emulators.loopback import bind_loopback


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._sock = bind_loopback()
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._drops = 0
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def drop_next(self, count: int) -> None:
        self._drops += count

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._serve, sock=self._sock)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            self._tasks.discard(task)
            return
        pump_back = asyncio.create_task(self._pump(upstream_reader, writer))
        try:
            while chunk := await reader.read(65536):
                if self._drops > 0 and chunk[:4] in (b"POST", b"GET ", b"DELE", b"PUT "):
                    self._drops -= 1
                    self.dropped += 1
                    # The request reached us whole or in part; the answer never comes back.
                    writer.transport.abort()
                    upstream_writer.transport.abort()
                    return
                upstream_writer.write(chunk)
                await upstream_writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            pump_back.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump_back
            upstream_writer.close()
            writer.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
