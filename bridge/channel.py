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
    async def accept(self, event: InboundEvent) -> None:
        """Persist the event durably, then return. Raise to make the adapter NOT acknowledge."""

    async def reject(self, connection_id: ConnectionId, raw: bytes, reason: str) -> None:
        """Record an update the adapter could not normalize; the adapter then acknowledges it."""


class Channel(Protocol):
    name: ClassVar[str]
    capabilities: ChannelCapabilities

    async def start(self, sink: InboundSink) -> None:
        """Start receiving for every connection added so far and later."""

    async def stop(self) -> None:
        """Stop receivers and let in-flight ``accept()`` calls finish."""

    async def probe(self, token: str) -> ChannelAccount:
        """Check credentials without receiving anything (``connect`` uses it)."""

    async def add_connection(self, conn: ChannelConnection) -> ChannelAccount:
        """Start receiving for this connection; idempotent. A messenger that cannot be
        reached is no error (the receiver keeps trying); rejected credentials raise
        ChannelAuthError, the receiver started all the same reporting FAILED."""

    async def remove_connection(self, connection_id: ConnectionId) -> None: ...

    async def send(
        self, connection_id: ConnectionId, chat: ExternalChatId, message: OutboundMessage
    ) -> DeliveryReceipt:
        """Send; raise TransientDeliveryError or PermanentDeliveryError on failure."""

    async def open_media(self, connection_id: ConnectionId, ref: MediaRef) -> MediaStream: ...

    def asgi_app(self) -> ASGIApp | None:
        """The adapter's HTTP routes, mounted at ``/{name}``; None when it needs none."""

    def receivers(self) -> list[ReceiverHealth]:
        """The state of every connection's receiver. Receivers heal themselves (retry with
        backoff, restart when they die); this is what readiness and ``status`` report."""


@runtime_checkable
class SupportsTyping(Protocol):
    async def send_typing(self, connection_id: ConnectionId, chat: ExternalChatId) -> None: ...


@runtime_checkable
class SupportsReactions(Protocol):
    async def send_reaction(
        self, connection_id: ConnectionId, chat: ExternalChatId, reaction: OutboundReaction
    ) -> None: ...


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
