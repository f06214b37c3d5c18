"""Job kinds, their payload codecs, and the handler table the worker runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bridge.ids import ConnectionId, ExternalChatId, ExternalMessageId, ExternalUserId, MediaRef
from bridge.messages import (
    Attachment,
    AttachmentKind,
    ContactCard,
    InboundEdit,
    InboundEvent,
    InboundMessage,
    InboundReaction,
    Location,
    Sender,
)

if TYPE_CHECKING:
    from storage import UnitOfWork


class JobKind(StrEnum):
    DELIVER_INBOUND = "deliver_inbound"  # customer → amoCRM
    PROCESS_HOOK = "process_amojo_hook"  # amoCRM hook → customer
    REPORT_DELIVERY = "report_delivery"  # delivery status → amoCRM
    REJECTED_UPDATE = "rejected_update"  # an update no adapter could read; kept for inspection


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler learns about the job it runs."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    connection_id: str | None
    # Writes that commit together with the job's completion (see ``on_success``).
    success_writes: list[Callable[[UnitOfWork], Awaitable[object]]] = field(default_factory=list)

    def on_success(self, write: Callable[[UnitOfWork], Awaitable[object]]) -> None:
        """Record ``write`` in the transaction that marks this job done, not in one of its own.

        For what only matters once the job succeeded (a message marked delivered): it costs
        no commit. If the process dies first, the job runs again, so the job must find out
        by itself that its work was done (and write this again).
        """
        self.success_writes.append(write)


Run = Callable[[JobContext], Awaitable[None]]
OnDead = Callable[[JobContext, BaseException], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobHandler:
    run: Run
    on_dead: OnDead | None = None  # called once when the job fails for good


HandlerTable = Mapping[str, JobHandler]


# -- codecs: events are stored in job payloads as plain JSON ---------------------------------


def _sender_to_dict(sender: Sender) -> dict[str, Any]:
    return {
        "external_id": sender.external_id,
        "name": sender.name,
        "username": sender.username,
        "profile_link": sender.profile_link,
        "phone": sender.phone,
    }


def _sender_from_dict(data: dict[str, Any]) -> Sender:
    return Sender(
        external_id=ExternalUserId(data["external_id"]),
        name=data["name"],
        username=data.get("username"),
        profile_link=data.get("profile_link"),
        phone=data.get("phone"),
    )


def _content_to_dict(event: InboundMessage | InboundEdit) -> dict[str, Any]:
    """What a message says (shared by new messages and edits)."""
    return {
        "text": event.text,
        "attachments": [
            {
                "kind": a.kind.value,
                "ref": a.ref,
                "file_name": a.file_name,
                "file_size": a.file_size,
                "mime_type": a.mime_type,
                "duration": a.duration,
                "sticker_id": a.sticker_id,
            }
            for a in event.attachments
        ],
        "location": (
            {"lat": event.location.lat, "lon": event.location.lon, "title": event.location.title}
            if event.location
            else None
        ),
        "contact": (
            {"name": event.contact.name, "phone": event.contact.phone} if event.contact else None
        ),
    }


def _content_from_dict(data: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for InboundMessage / InboundEdit; payloads stored before a field
    existed simply lack it."""
    location = data.get("location")
    contact = data.get("contact")
    return {
        "text": data.get("text"),
        "attachments": tuple(
            Attachment(
                kind=AttachmentKind(a["kind"]),
                ref=MediaRef(a["ref"]),
                file_name=a["file_name"],
                file_size=a["file_size"],
                mime_type=a.get("mime_type"),
                duration=a.get("duration"),
                sticker_id=a.get("sticker_id"),
            )
            for a in data.get("attachments") or ()
        ),
        "location": Location(**location) if location else None,
        "contact": ContactCard(**contact) if contact else None,
    }


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def event_to_payload(event: InboundEvent) -> dict[str, Any]:
    common = {
        "connection_id": event.connection_id,
        "chat": event.chat,
        "message": event.message,
        "sender": _sender_to_dict(event.sender),
    }
    if isinstance(event, InboundMessage):
        return (
            common
            | _content_to_dict(event)
            | {
                "type": "message",
                "sent_at": event.sent_at.isoformat(),
                "reply_to": event.reply_to,
                "forwarded_from": event.forwarded_from,
                "forwarded_at": event.forwarded_at.isoformat() if event.forwarded_at else None,
                "media_group": event.media_group,
            }
        )
    if isinstance(event, InboundEdit):
        return (
            common
            | _content_to_dict(event)
            | {
                "type": "edit",
                "edited_at": event.edited_at.isoformat(),
                "revision": event.revision,
            }
        )
    return common | {
        "type": "reaction",
        "at": event.at.isoformat(),
        "revision": event.revision,
        "emoji": event.emoji,
    }


def payload_to_event(data: dict[str, Any]) -> InboundEvent:
    ids: dict[str, Any] = {
        "connection_id": ConnectionId(data["connection_id"]),
        "chat": ExternalChatId(data["chat"]),
        "message": ExternalMessageId(data["message"]),
        "sender": _sender_from_dict(data["sender"]),
    }
    if data["type"] == "edit":
        return InboundEdit(
            **ids,
            edited_at=datetime.fromisoformat(data["edited_at"]),
            revision=data["revision"],
            **_content_from_dict(data),
        )
    if data["type"] == "reaction":
        return InboundReaction(
            **ids,
            at=datetime.fromisoformat(data["at"]),
            revision=data["revision"],
            emoji=data.get("emoji"),
        )
    return InboundMessage(
        **ids,
        sent_at=datetime.fromisoformat(data["sent_at"]),
        **_content_from_dict(data),
        reply_to=ExternalMessageId(data["reply_to"]) if data.get("reply_to") else None,
        forwarded_from=data.get("forwarded_from"),
        forwarded_at=_time(data.get("forwarded_at")),
        media_group=data.get("media_group"),
    )
