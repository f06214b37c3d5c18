"""Channel-neutral messages: what adapters hand the core and what the core hands adapters.

Standard library only: adapters depend on these names (pinned by tests/bridge/test_contract.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bridge.ids import ConnectionId, ExternalChatId, ExternalMessageId, ExternalUserId, MediaRef

__all__ = [
    "Attachment",
    "AttachmentKind",
    "Button",
    "ContactCard",
    "DeliveryReceipt",
    "InboundEdit",
    "InboundEvent",
    "InboundMessage",
    "InboundReaction",
    "Location",
    "OutboundAttachment",
    "OutboundMessage",
    "OutboundReaction",
    "Sender",
]


class AttachmentKind(StrEnum):
    """The Chats API message types that carry a file."""

    PICTURE = "picture"
    FILE = "file"
    VIDEO = "video"
    VOICE = "voice"
    AUDIO = "audio"
    STICKER = "sticker"


@dataclass(frozen=True, slots=True)
class Sender:
    external_id: ExternalUserId
    name: str
    username: str | None = None
    profile_link: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file the customer sent; ``ref`` lets the adapter fetch it later through /media."""

    kind: AttachmentKind
    ref: MediaRef
    file_name: str
    file_size: int
    mime_type: str | None = None
    duration: int | None = None
    sticker_id: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float
    title: str | None = None


@dataclass(frozen=True, slots=True)
class ContactCard:
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A new customer message."""

    connection_id: ConnectionId
    chat: ExternalChatId
    message: ExternalMessageId
    sender: Sender
    sent_at: datetime
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    contact: ContactCard | None = None
    reply_to: ExternalMessageId | None = None
    forwarded_from: str | None = None  # the original author's name, when forwarded
    forwarded_at: datetime | None = None  # when the original was written
    media_group: str | None = None


@dataclass(frozen=True, slots=True)
class InboundEdit:
    """A customer edited an earlier message; ``revision`` tells edits of one message apart.

    It carries the message's whole new content: an edited caption keeps its picture, and an
    edited (live) location is a location again.
    """

    connection_id: ConnectionId
    chat: ExternalChatId
    message: ExternalMessageId
    sender: Sender
    edited_at: datetime
    revision: str
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    contact: ContactCard | None = None


@dataclass(frozen=True, slots=True)
class InboundReaction:
    """A customer set (emoji) or removed (emoji None) a reaction on a message."""

    connection_id: ConnectionId
    chat: ExternalChatId
    message: ExternalMessageId
    sender: Sender
    at: datetime
    revision: str
    emoji: str | None = None


InboundEvent = InboundMessage | InboundEdit | InboundReaction


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundAttachment:
    """A file the operator sent, downloadable from ``url``."""

    kind: AttachmentKind
    url: str
    file_name: str = ""
    file_size: int = 0


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """An operator message for one customer chat."""

    text: str = ""
    attachments: tuple[OutboundAttachment, ...] = ()
    buttons: tuple[tuple[Button, ...], ...] = ()
    reply_to: ExternalMessageId | None = None


@dataclass(frozen=True, slots=True)
class OutboundReaction:
    message: ExternalMessageId
    emoji: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What an adapter reports after sending: the ids the message got on the messenger.

    ``attachments`` holds, for each of the message's attachments in order, the id of the
    messenger message that carries it (None when it went out inside another one): it lets the
    core map each amoCRM hook of an album to its own messenger message.
    """

    messages: tuple[ExternalMessageId, ...] = field(default_factory=tuple)
    attachments: tuple[ExternalMessageId | None, ...] = field(default_factory=tuple)

    @property
    def first(self) -> ExternalMessageId | None:
        return self.messages[0] if self.messages else None
