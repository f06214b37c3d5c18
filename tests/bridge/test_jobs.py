"""Events in job payloads: encoded and decoded by the same types, old payloads still readable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from bridge.ids import ConnectionId, ExternalChatId, ExternalMessageId, ExternalUserId, MediaRef
from bridge.jobs import event_to_payload, payload_to_event
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

SENDER = Sender(ExternalUserId("5001"), "Anna", "anna_p", "https://t.me/anna_p", None)
AT = datetime(2026, 5, 1, 10, 0, 30, tzinfo=UTC)
IDS = (ConnectionId("c1"), ExternalChatId("5001"), ExternalMessageId("77"), SENDER)

# A payload exactly as the hand-written codec before this one stored it.
STORED_BEFORE = {
    "connection_id": "c1",
    "chat": "5001",
    "message": "77",
    "sender": {
        "external_id": "5001",
        "name": "Anna",
        "username": "anna_p",
        "profile_link": "https://t.me/anna_p",
        "phone": None,
    },
    "text": "caption",
    "attachments": [
        {
            "kind": "picture",
            "ref": "file-1",
            "file_name": "a.jpg",
            "file_size": 10,
            "mime_type": "image/jpeg",
            "duration": None,
            "sticker_id": None,
        }
    ],
    "location": None,
    "contact": None,
    "type": "message",
    "sent_at": "2026-05-01T10:00:30+00:00",
    "reply_to": None,
    "forwarded_from": None,
    "forwarded_at": None,
    "media_group": None,
}


def test_a_payload_stored_by_the_previous_codec_still_decodes() -> None:
    assert payload_to_event(STORED_BEFORE) == InboundMessage(
        *IDS,
        sent_at=AT,
        text="caption",
        attachments=(
            Attachment(AttachmentKind.PICTURE, MediaRef("file-1"), "a.jpg", 10, "image/jpeg"),
        ),
    )


def test_a_payload_stored_before_a_field_existed_decodes_with_its_default() -> None:
    old = {k: v for k, v in STORED_BEFORE.items() if k not in ("forwarded_at", "media_group")}
    event = payload_to_event(old)
    assert isinstance(event, InboundMessage) and event.media_group is None


@pytest.mark.parametrize(
    "event",
    [
        InboundMessage(
            *IDS,
            sent_at=AT,
            location=Location(55.75, 37.61, "Red Square"),
            reply_to=ExternalMessageId("70"),
            forwarded_from="Boris",
            forwarded_at=AT,
            media_group="g",
        ),
        InboundMessage(*IDS, sent_at=AT, contact=ContactCard("Boris", "+100")),
        InboundEdit(*IDS, edited_at=AT, revision="r2", text="fixed"),
        InboundReaction(*IDS, at=AT, revision="r3", emoji="👍"),
        InboundReaction(*IDS, at=AT, revision="r4"),
    ],
)
def test_every_event_round_trips(event: InboundEvent) -> None:
    assert payload_to_event(event_to_payload(event)) == event


def test_a_payload_of_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        payload_to_event(STORED_BEFORE | {"type": "poll"})


def test_a_payload_missing_a_required_field_is_refused() -> None:
    with pytest.raises(ValidationError):
        payload_to_event({k: v for k, v in STORED_BEFORE.items() if k != "sent_at"})
