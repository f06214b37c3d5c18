"""A delivery rig: a real store, the real AmojoClient against the Chats API emulator on loopback,
and the FakeChannel as the messenger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bridge.amojo import AmojoClient
from bridge.amojo.models import AmojoHook
from bridge.caches import Lookups
from bridge.channel import ChannelRegistry
from bridge.crypto import SecretBox, generate_key
from bridge.delivery.to_amocrm import InboundDelivery
from bridge.delivery.to_customer import OutboundDelivery
from bridge.delivery.uncertain import Policy, UncertainSends
from bridge.ids import ConnectionId, ExternalChatId, ExternalMessageId, ExternalUserId
from bridge.jobs import JobContext, JobKind
from bridge.media import MediaLinks
from bridge.messages import InboundMessage, Sender
from bridge.relay import HookOutcome, Relay
from emulators.amojo.app import AmojoEmulator
from storage import Store
from storage.models import Connection
from tests.bridge.chats_api import chats_api
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
    channels: ChannelRegistry
    resends: list[str]

    def outbound_under(self, policy: Policy) -> OutboundDelivery:
        """The amoCRM → customer delivery with ``BRIDGE_UNCERTAIN_SENDS=policy``."""
        uncertain = UncertainSends(policy, self.resends.append)
        return OutboundDelivery(self.store, self.amojo, self.channels, self.lookups, uncertain)

    async def job(self, kind: str, *, attempts: int = 1, interrupted: bool = False) -> JobContext:
        """The newest queued job of ``kind``, as the worker would hand it over."""
        async with self.store.read() as uow:
            [row, *_] = await uow.jobs.list(kind=kind, newest_first=True)
        assert row.id is not None
        return JobContext(row.id, row.kind, row.payload, attempts, row.connection_id, interrupted)

    async def complete(self, job: JobContext) -> None:
        """What the worker commits with a job's completion."""
        async with self.store.transaction() as uow:
            for write in job.success_writes:
                await write(uow)


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    async with chats_api() as (emulator, amojo):
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
        resends: list[str] = []
        yield Rig(
            store,
            amojo,
            emulator,
            channel,
            lookups,
            Relay(store, lookups),
            InboundDelivery(store, amojo, media, lookups),
            OutboundDelivery(
                store, amojo, channels, lookups, UncertainSends("resend", resends.append)
            ),
            scope_id,
            channels,
            resends,
        )


CONVERSATION = "fake-4242-5001"


@pytest.fixture
async def chatting(rig: Rig) -> Rig:
    """The customer wrote first: the chat exists on both sides."""
    await rig.relay.accept(
        InboundMessage(
            ConnectionId(CONNECTION),
            ExternalChatId("5001"),
            ExternalMessageId("77"),
            Sender(ExternalUserId("5001"), "Anna"),
            sent_at=datetime.now(UTC),
            text="Hello",
        )
    )
    job = await rig.job(JobKind.DELIVER_INBOUND)
    await rig.inbound.run(job)
    await rig.complete(job)
    return rig


async def store_hook(rig: Rig, raw: bytes) -> None:
    hook = AmojoHook.model_validate_json(raw)
    assert await rig.relay.accept_hook(rig.scope_id, hook, raw) == HookOutcome.STORED


async def operator_writes(rig: Rig, text: str) -> str:
    amojo_id, raw = rig.emulator.build_message_hook(rig.scope_id, CONVERSATION, text)
    await store_hook(rig, raw)
    return amojo_id
