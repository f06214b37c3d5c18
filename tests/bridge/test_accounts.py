"""Connecting and disconnecting amoCRM accounts: the real AmojoClient against the Chats API
emulator on loopback, a real store, and the FakeChannel as the messenger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bridge.accounts import Accounts, ConnectError, describe_receiver
from bridge.amojo import AmojoClient
from bridge.caches import Lookups
from bridge.channel import ChannelRegistry
from bridge.crypto import SecretBox, generate_key
from bridge.errors import ConfigError
from bridge.ids import ConnectionId
from storage import Store
from storage.models import Connection, ConnectionState
from tests.bridge.chats_api import chats_api
from tests.fakes import FakeChannel
from tests.storage.rows import add_conversation

ACCOUNT = "52e591f7-c98f-4255-8495-827210138c81"
OTHER_ACCOUNT = "0f6d1d5c-7b1e-4c55-9d0b-2f3f4c5d6e7f"
TOKEN = "4242:bot-token-secret"


@dataclass
class Rig:
    store: Store
    amojo: AmojoClient
    channel: FakeChannel
    channels: ChannelRegistry
    accounts: Accounts


@pytest.fixture
async def rig(store: Store) -> AsyncIterator[Rig]:
    async with chats_api() as (_, amojo):
        channel = FakeChannel()
        channels = ChannelRegistry()
        channels.register(FakeChannel.name, lambda: channel)
        accounts = Accounts(
            store, amojo, channels, Lookups(), box=SecretBox(generate_key()), public_base=None
        )
        yield Rig(store, amojo, channel, channels, accounts)


async def connect(rig: Rig, account: str = ACCOUNT, token: str = TOKEN) -> Connection:
    return await rig.accounts.connect(account, token, channel_name=FakeChannel.name)


async def rows(store: Store) -> list[Connection]:
    async with store.read() as uow:
        return list(await uow.connections.list())


async def test_connect_stores_one_active_row_with_the_token_sealed(rig: Rig) -> None:
    row = await connect(rig)
    [stored] = await rows(rig.store)
    assert stored.id == row.id and stored.amojo_account_id == ACCOUNT
    assert (stored.state, stored.mode, stored.external_account_id) == ("active", "polling", "4242")
    assert stored.scope_id and stored.title == "@fake_bot"
    assert TOKEN not in stored.token_encrypted
    assert rig.accounts.channel_connection(stored).token == TOKEN


async def test_connect_again_is_the_same_connection(rig: Rig) -> None:
    first = await connect(rig)
    again = await connect(rig, token="4242:renewed-token")
    assert again.id == first.id and again.scope_id == first.scope_id
    [stored] = await rows(rig.store)
    assert rig.accounts.channel_connection(stored).token == "4242:renewed-token"


async def test_a_bot_already_serving_another_account_is_refused(rig: Rig) -> None:
    await connect(rig)
    with pytest.raises(ConnectError, match=f"already serves account {ACCOUNT}"):
        await connect(rig, account=OTHER_ACCOUNT)
    assert [row.amojo_account_id for row in await rows(rig.store)] == [ACCOUNT]


async def test_while_serving_connect_attaches_and_disconnect_detaches(rig: Rig) -> None:
    rig.accounts.receiving = True
    row = await connect(rig)
    assert rig.channel.connections[ConnectionId(row.id)].token == TOKEN
    await rig.accounts.disconnect(ACCOUNT, FakeChannel.name)
    assert rig.channel.connections == {}


async def test_disconnect_keeps_the_row_and_its_conversations(rig: Rig) -> None:
    row = await connect(rig)
    _, conversation = await add_conversation(rig.store, row.id, "chat-1")
    await rig.accounts.disconnect(ACCOUNT, FakeChannel.name)
    [stored] = await rows(rig.store)
    assert stored.state == ConnectionState.DISCONNECTED
    async with rig.store.read() as uow:
        assert await uow.conversations.get(conversation) is not None
    with pytest.raises(ConfigError, match=f"no connection for account {OTHER_ACCOUNT}"):
        await rig.accounts.disconnect(OTHER_ACCOUNT, FakeChannel.name)


async def test_a_connection_that_cannot_start_records_why(rig: Rig) -> None:
    row = await connect(rig)
    rig.channel.fail_next("add_connection", RuntimeError("the bot was blocked"))
    await rig.accounts.attach(row)
    [stored] = await rows(rig.store)
    assert stored.last_error == "could not start: the bot was blocked"
    [status] = await rig.accounts.status()
    assert (status.account_id, status.bot, status.state) == (ACCOUNT, "@fake_bot", "active")
    assert status.last_error == "could not start: the bot was blocked"


async def test_without_a_secret_key_nothing_is_connected(rig: Rig) -> None:
    accounts = Accounts(rig.store, rig.amojo, rig.channels, Lookups(), box=None, public_base=None)
    with pytest.raises(ConfigError, match="BRIDGE_SECRET_KEY"):
        await accounts.connect(ACCOUNT, TOKEN, channel_name=FakeChannel.name)
    assert await rows(rig.store) == []


def test_the_receiver_column_says_how_long_ago() -> None:
    row = Connection(
        id="c1",
        channel="telegram",
        amojo_account_id="a",
        scope_id="s",
        external_account_id="b",
        token_encrypted="x",
        webhook_secret_encrypted="x",
        receiver_state="running",
        receiver_since=0.0,
        receiver_last_ok=1000.0,
    )
    assert describe_receiver(row, now=1003.0) == "polling, ok 3s ago"
    row.receiver_state, row.receiver_error, row.receiver_since = "retrying", "HTTP 502", 1000.0
    assert describe_receiver(row, now=1000.0 + 3 * 3600) == "retrying: HTTP 502, 3h"
    row.state = ConnectionState.DISCONNECTED
    assert describe_receiver(row, now=1003.0) == ""
