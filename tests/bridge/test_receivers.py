"""The receiver monitor copies the adapters' receiver health to the connection rows on change."""

from __future__ import annotations

from bridge.channel import ChannelRegistry, ReceiverHealth, ReceiverState
from bridge.ids import ConnectionId
from bridge.receivers import ReceiverMonitor
from storage import Store
from storage.models import Connection
from tests.fakes import FakeChannel
from tests.storage.rows import add_connection

C1 = ConnectionId("c1")


def monitored(store: Store) -> tuple[ReceiverMonitor, FakeChannel]:
    channel = FakeChannel()
    channels = ChannelRegistry()
    channels.register(FakeChannel.name, lambda: channel)
    channels.get(FakeChannel.name)  # built: the monitor looks at built channels only
    return ReceiverMonitor(store, channels), channel


def health(
    state: ReceiverState,
    *,
    since: float = 100.0,
    last_ok: float | None = None,
    last_error: str | None = None,
) -> ReceiverHealth:
    return ReceiverHealth(C1, "polling", state, since, last_ok, last_error)


async def row(store: Store) -> Connection:
    async with store.read() as uow:
        connection = await uow.connections.get(C1)
    assert connection is not None
    return connection


async def scribble(store: Store) -> None:
    """Overwrite the row so that a later write (or its absence) shows."""
    async with store.transaction() as uow:
        await uow.connections.set_receiver_state(C1, "scribbled", None, 0.0, None)


async def test_a_new_receiver_state_is_written_to_its_connection(store: Store) -> None:
    await add_connection(store)
    monitor, channel = monitored(store)
    channel.health = [health(ReceiverState.RETRYING, last_error="HTTP 502", last_ok=90.0)]
    await monitor.flush()
    connection = await row(store)
    assert (
        connection.receiver_state,
        connection.receiver_error,
        connection.receiver_since,
        connection.receiver_last_ok,
    ) == ("retrying", "HTTP 502", 100.0, 90.0)
    assert [h.connection_id for h in monitor.receivers()] == [C1]


async def written_then_scribbled(store: Store) -> tuple[ReceiverMonitor, FakeChannel]:
    """A running receiver written once, then its row overwritten."""
    await add_connection(store)
    monitor, channel = monitored(store)
    channel.health = [health(ReceiverState.RUNNING, last_ok=100.0)]
    await monitor.flush()
    await scribble(store)
    return monitor, channel


async def test_an_unchanged_state_is_not_written_again(store: Store) -> None:
    monitor, _ = await written_then_scribbled(store)
    await monitor.flush()
    assert (await row(store)).receiver_state == "scribbled"


async def test_a_newer_last_poll_alone_waits_for_the_refresh_interval(store: Store) -> None:
    monitor, channel = await written_then_scribbled(store)
    channel.health = [health(ReceiverState.RUNNING, last_ok=101.0)]  # one more poll
    await monitor.flush()
    assert (await row(store)).receiver_state == "scribbled"


async def test_a_changed_state_or_error_is_written_at_once(store: Store) -> None:
    await add_connection(store)
    monitor, channel = monitored(store)
    channel.health = [health(ReceiverState.RUNNING)]
    await monitor.flush()
    channel.health = [health(ReceiverState.FAILED, since=200.0, last_error="bot token revoked")]
    await monitor.flush()
    connection = await row(store)
    assert (connection.receiver_state, connection.receiver_error) == (
        "failed",
        "bot token revoked",
    )


async def test_stop_writes_what_changed_since_the_last_look(store: Store) -> None:
    await add_connection(store)
    monitor, channel = monitored(store)
    channel.health = [health(ReceiverState.STARTING)]
    await monitor.stop()  # never started: stop still flushes
    assert (await row(store)).receiver_state == "starting"
