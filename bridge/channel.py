"""The adapter contract: what a messenger adapter implements and what the core offers it.

Standard library only. A new messenger (WhatsApp, VK, a web chat) is one more package under
``channels/`` that implements ``Channel`` and is registered in ``bridge.container``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from bridge.ids import ConnectionId, ExternalChatId, MediaRef
from bridge.messages import DeliveryReceipt, InboundEvent, OutboundMessage, OutboundReaction

__all__ = [
    "ASGIApp",
    "Channel",
    "ChannelAccount",
    "ChannelCapabilities",
    "ChannelConnection",
    "ChannelRegistry",
    "InboundSink",
    "MediaStream",
    "ReceiverHealth",
    "ReceiverState",
    "SupportsReactions",
    "SupportsTyping",
]

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


@dataclass(frozen=True, slots=True)
class ChannelCapabilities:
    typing: bool = False
    reactions: bool = False
    edits: bool = False
    buttons: bool = False
    max_text_length: int = 4096


@dataclass(frozen=True, slots=True)
class ChannelConnection:
    """What the core hands an adapter: the decrypted credentials live only here, in memory."""

    connection_id: ConnectionId
    token: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    public_url: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelAccount:
    """The messenger-side identity behind a connection (for Telegram: the bot)."""

    external_id: str
    username: str
    display_name: str


@dataclass(slots=True)
class MediaStream:
    """A file being streamed from the messenger; ``chunks`` must be consumed or closed."""

    content_type: str
    file_name: str
    size: int | None
    chunks: AsyncIterator[bytes]


class ReceiverState(StrEnum):
    STARTING = "starting"  # not yet received (or confirmed it can receive) anything
    RUNNING = "running"  # polling / webhook set, last attempt succeeded
    RETRYING = "retrying"  # the messenger cannot be reached; trying again with backoff
    FAILED = "failed"  # the messenger refuses us (a revoked token); retried slowly


@dataclass(frozen=True, slots=True)
class ReceiverHealth:
    """How one connection's receiver is doing. Times are ``time.time()`` seconds."""

    connection_id: ConnectionId
    mode: str  # "polling" or "webhook"
    state: ReceiverState
    since: float  # when it entered ``state``
    last_ok: float | None = None  # last successful poll (webhook: setWebhook or update)
    last_error: str | None = None  # one readable line, never a secret

    @property
    def down(self) -> bool:
        return self.state in (ReceiverState.RETRYING, ReceiverState.FAILED, ReceiverState.STARTING)


class InboundSink(Protocol):
    """What the core offers an adapter for everything it receives (the core's ``Relay``)."""

    async def accept(self, event: InboundEvent) -> None:
        """Persist the event durably, then return. Raise to make the adapter NOT acknowledge.

        Idempotent: the same message (same connection, chat and message id) or the same edit
        or reaction revision accepted twice is stored once, so an adapter may redeliver freely
        after a crash. Returns once the event and its delivery job are committed; the
        adapter acknowledges the update to the messenger only then.
        """

    async def reject(self, connection_id: ConnectionId, raw: bytes, reason: str) -> None:
        """Record an update the adapter could not normalize; the adapter then acknowledges it.

        ``raw`` is kept as it came (decoded leniently) with the one-line ``reason``, as a failed
        job that ``amo-bridge status`` counts: nothing an adapter receives vanishes unseen.
        """


class Channel(Protocol):
    """A messenger adapter. The core calls these from one event loop; none may block it.

    Errors: what fails while sending raises ``TransientDeliveryError`` (the worker retries,
    waiting at least its ``retry_after``) or ``PermanentDeliveryError`` (no retry; amoCRM is
    told why, with the error's ``code``). Any other exception counts as transient.
    Secrets: the token and webhook secret in ``ChannelConnection`` stay in memory; an adapter
    never logs them nor puts them in an error message or a URL it exposes.
    """

    name: ClassVar[str]  # the registry name, the URL prefix of ``asgi_app``, ids' channel part
    capabilities: ChannelCapabilities

    async def start(self, sink: InboundSink) -> None:
        """Start receiving for every connection added so far and later.

        Every update received from then on is handed to ``sink.accept`` (or ``sink.reject``)
        before it is acknowledged to the messenger.
        """

    async def stop(self) -> None:
        """Stop receivers and let in-flight ``accept()`` calls finish.

        After it returns nothing more reaches the sink; updates not yet accepted stay
        unacknowledged, so the messenger delivers them again after the next ``start``.
        """

    async def probe(self, token: str) -> ChannelAccount:
        """Check credentials without receiving anything (``connect`` uses it).

        Raises ``DeliveryError`` when the messenger refuses the token or cannot be reached.
        """

    async def add_connection(self, conn: ChannelConnection) -> ChannelAccount:
        """Start receiving for this connection; idempotent. A messenger that cannot be
        reached is no error (the receiver keeps trying); rejected credentials raise
        ChannelAuthError, the receiver started all the same reporting FAILED.

        Called for every active connection at start-up and again by ``connect``; the core
        records an error as the connection's last error and goes on with the others.
        """

    async def remove_connection(self, connection_id: ConnectionId) -> None:
        """Stop receiving for this connection and forget its credentials; a no-op when unknown.

        After it returns no update of this connection reaches the sink.
        """

    async def send(
        self, connection_id: ConnectionId, chat: ExternalChatId, message: OutboundMessage
    ) -> DeliveryReceipt:
        """Send; raise TransientDeliveryError or PermanentDeliveryError on failure.

        One call is one operator message: the adapter may split it (long text, an album) but
        returns only when all of it went out, with the messenger's ids in the receipt. It
        does not retry by itself beyond what its rate limits need; the worker retries, and a
        retried send may follow a send whose receipt was lost.
        """

    async def open_media(self, connection_id: ConnectionId, ref: MediaRef) -> MediaStream:
        """Stream a file a customer sent, named by the ``ref`` the adapter put in an
        ``Attachment``. Raises ``DeliveryError`` (or ``LookupError`` for an unknown
        connection) when it cannot be fetched: the media route answers that with a 404 of its
        own, never with the messenger's URL (it carries the bot token)."""

    def asgi_app(self) -> ASGIApp | None:
        """The adapter's HTTP routes, mounted at ``/{name}``; None when it needs none.

        Routes that receive updates check the messenger's own authentication (e.g. the
        webhook secret) and answer 4xx to what fails it.
        """

    def receivers(self) -> list[ReceiverHealth]:
        """The state of every connection's receiver. Receivers heal themselves (retry with
        backoff, restart when they die); this is what readiness and ``status`` report."""


@runtime_checkable
class SupportsTyping(Protocol):
    """Optional: an adapter that can show "typing…" to the customer."""

    async def send_typing(self, connection_id: ConnectionId, chat: ExternalChatId) -> None:
        """Show typing once (the messenger expires it). Failures raise ``DeliveryError``; the
        core logs them and never retries (a late indicator misleads)."""


@runtime_checkable
class SupportsReactions(Protocol):
    """Optional: an adapter that can set or remove the operator's reaction on a message."""

    async def send_reaction(
        self, connection_id: ConnectionId, chat: ExternalChatId, reaction: OutboundReaction
    ) -> None:
        """Set ``reaction.emoji`` on ``reaction.message`` (None removes it). An emoji the
        messenger does not allow is skipped with a log line, not an error."""


class ChannelRegistry:
    """The adapters this process runs, by name.

    Adapters are registered as factories and built on first use, so that commands which never
    touch a messenger (``status``) do not pay for importing its client library.
    """

    def __init__(self) -> None:
        self._factories: dict[str, Callable[[], Channel]] = {}
        self._channels: dict[str, Channel] = {}

    def register(self, name: str, factory: Callable[[], Channel]) -> None:
        self._factories[name] = factory

    def get(self, name: str) -> Channel:
        channel = self._channels.get(name)
        if channel is None:
            factory = self._factories.get(name)
            if factory is None:
                raise LookupError(f"no channel adapter named {name!r} is registered")
            channel = self._channels[name] = factory()
        return channel

    def __iter__(self) -> Iterator[Channel]:
        return iter([self.get(name) for name in self.names()])

    def built(self) -> list[Channel]:
        """The adapters already in use (to stop them without building the others)."""
        return list(self._channels.values())

    def names(self) -> list[str]:
        return sorted(self._factories)
