"""The one hand-written test double: a messenger adapter that records what the core asks of it.

Everything else in the tests is real (the Chats API side is the real AmojoClient against the
emulator). ``fail_next`` scripts failures: the next calls of a method raise the given errors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from typing import ClassVar

from bridge.channel import (
    ASGIApp,
    ChannelAccount,
    ChannelCapabilities,
    ChannelConnection,
    InboundSink,
    MediaStream,
    ReceiverHealth,
)
from bridge.errors import ChatNotFoundError
from bridge.ids import ConnectionId, ExternalChatId, ExternalMessageId, MediaRef
from bridge.messages import DeliveryReceipt, OutboundMessage, OutboundReaction


class FakeChannel:
    name: ClassVar[str] = "fake"
    capabilities = ChannelCapabilities(typing=True, reactions=True, edits=True, buttons=True)

    def __init__(self) -> None:
        self.sent: list[tuple[ConnectionId, ExternalChatId, OutboundMessage]] = []
        self.typing: list[tuple[ConnectionId, ExternalChatId]] = []
        self.reactions: list[tuple[ConnectionId, ExternalChatId, OutboundReaction]] = []
        self.connections: dict[ConnectionId, ChannelConnection] = {}
        self.sink: InboundSink | None = None
        # What receivers() reports: a test sets the receivers' health it needs.
        self.health: list[ReceiverHealth] = []
        # What open_media serves: ref → (content, content type, file name).
        self.files: dict[MediaRef, tuple[bytes, str, str]] = {}
        self._failures: defaultdict[str, list[Exception]] = defaultdict(list)
        self._next_id = 100

    def fail_next(self, method: str, *errors: Exception) -> None:
        self._failures[method].extend(errors)

    def _maybe_fail(self, method: str) -> None:
        if self._failures[method]:
            raise self._failures[method].pop(0)

    def _message_id(self) -> ExternalMessageId:
        self._next_id += 1
        return ExternalMessageId(str(self._next_id))

    async def start(self, sink: InboundSink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        self.sink = None

    async def probe(self, token: str) -> ChannelAccount:
        self._maybe_fail("probe")
        return ChannelAccount(
            external_id=token.split(":", maxsplit=1)[0], username="fake_bot", display_name=""
        )

    async def add_connection(self, conn: ChannelConnection) -> ChannelAccount:
        self._maybe_fail("add_connection")
        self.connections[conn.connection_id] = conn
        return await self.probe(conn.token)

    async def remove_connection(self, connection_id: ConnectionId) -> None:
        self.connections.pop(connection_id, None)

    async def send(
        self, connection_id: ConnectionId, chat: ExternalChatId, message: OutboundMessage
    ) -> DeliveryReceipt:
        self._maybe_fail("send")
        self.sent.append((connection_id, chat, message))
        first = self._message_id()
        carriers = tuple(first if i == 0 else None for i in range(len(message.attachments)))
        return DeliveryReceipt(messages=(first,), attachments=carriers)

    async def send_typing(self, connection_id: ConnectionId, chat: ExternalChatId) -> None:
        self._maybe_fail("send_typing")
        self.typing.append((connection_id, chat))

    async def send_reaction(
        self, connection_id: ConnectionId, chat: ExternalChatId, reaction: OutboundReaction
    ) -> None:
        self._maybe_fail("send_reaction")
        self.reactions.append((connection_id, chat, reaction))

    async def open_media(self, connection_id: ConnectionId, ref: MediaRef) -> MediaStream:
        self._maybe_fail("open_media")
        if ref not in self.files:
            raise ChatNotFoundError("the messenger no longer has this file")
        content, content_type, file_name = self.files[ref]

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(content), 4):  # several chunks, as a stream comes
                yield content[start : start + 4]

        return MediaStream(content_type, file_name, len(content), chunks())

    def asgi_app(self) -> ASGIApp | None:
        return None

    def receivers(self) -> list[ReceiverHealth]:
        return list(self.health)
