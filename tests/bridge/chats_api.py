"""The Chats API side of the unit rigs: the emulator on loopback and the real AmojoClient."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bridge.amojo import AmojoClient
from emulators.amojo.app import AmojoEmulator
from emulators.loopback import LoopbackServer


@asynccontextmanager
async def chats_api() -> AsyncIterator[tuple[AmojoEmulator, AmojoClient]]:
    channel_id, secret = str(uuid.uuid4()), uuid.uuid4().hex
    emulator = AmojoEmulator(channel_id=channel_id, channel_secret=secret)
    async with LoopbackServer(emulator.app) as server:
        amojo = AmojoClient.create(server.url, channel_id, secret, timeout=2.0)
        try:
            yield emulator, amojo
        finally:
            await amojo.aclose()
            await emulator.aclose()
