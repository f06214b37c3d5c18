"""A delivery rig: a real store, the real AmojoClient against the Chats API emulator on loopback,
and the FakeChannel as the messenger."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bridge.amojo import AmojoClient
from bridge.caches import Lookups
from bridge.channel import ChannelRegistry
from bridge.crypto import SecretBox, generate_key
from bridge.delivery.to_amocrm import InboundDelivery
from bridge.delivery.to_customer import OutboundDelivery
from bridge.jobs import JobContext
from bridge.media import MediaLinks
from bridge.relay import Relay
from emulators.amojo.app import AmojoEmulator
from emulators.loopback import LoopbackServer
from storage import Store
from storage.models import Connection
from tests.fakes import FakeChannel

ACCOUNT = "52e591f7-c98f-4255-8495-827210138c81"
CONNECTION = "c" * 32
BOT = "4242"


@dataclass
class Rig:
    store: Store
    amojo: AmojoClient
    emulator: AmojoEmulator
    channel: FakeChannel
    lookups: Lookups
    relay: Relay
    inbound: InboundDelivery
    outbound: OutboundDelivery
    scope_id: str

    async def job(self, kind: str, *, attempts: int = 1) -> JobContext:
        """The newest queued job of ``kind``, as the worker would hand it over."""
        async with self.store.read() as uow:
            [row, *_] = await uow.jobs.list(kind=kind, newest_first=True)
        assert row.id is not None
        return JobContext(row.id, row.kind, row.payload, attempts, row.connection_id)

    async def complete(self, job: JobContext) -> None:
        """What the worker commits with a job's completion."""
        async with self.store.transaction() as uow:
            for write in job.success_writes:
                await write(uow)


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    channel_id, secret = str(uuid.uuid4()), uuid.uuid4().hex
    emulator = AmojoEmulator(channel_id=channel_id, channel_secret=secret)
    async with LoopbackServer(emulator.app) as server:
        amojo = AmojoClient.create(server.url, channel_id, secret, timeout=2.0)
        scope_id = (await amojo.connect(ACCOUNT))["scope_id"]
        async with store.transaction() as uow:
            await uow.save(
                Connection(
                    id=CONNECTION,
                    channel=FakeChannel.name,
                    amojo_account_id=ACCOUNT,
                    scope_id=scope_id,
                    external_account_id=BOT,
                    token_encrypted="x",
                    webhook_secret_encrypted="x",
                )
            )
        channel = FakeChannel()
        channels = ChannelRegistry()
        channels.register(FakeChannel.name, lambda: channel)
        lookups = Lookups()
        media = MediaLinks(SecretBox(generate_key()), "http://127.0.0.1:1", 3600)
        try:
            yield Rig(
                store,
                amojo,
                emulator,
                channel,
                lookups,
                Relay(store, lookups),
                InboundDelivery(store, amojo, media, lookups),
                OutboundDelivery(store, amojo, channels, lookups),
                scope_id,
            )
        finally:
            await amojo.aclose()
            await emulator.aclose()
