"""Pure conversion: aiogram updates → channel-neutral inbound events."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram.types import (
    CallbackQuery,
    Message,
    MessageEntity,
    MessageOriginChannel,
    MessageOriginChat,
    MessageOriginHiddenUser,
    MessageOriginUser,
    MessageReactionUpdated,
    ReactionTypeEmoji,
    User,
)

from bridge.ids import ConnectionId, ExternalMessageId
from bridge.messages import (
    Attachment,
    AttachmentKind,
    ContactCard,
    InboundEdit,
    InboundMessage,
    InboundReaction,
    Location,
    Sender,
)
from channels.telegram.ids import make_chat_id, make_media_ref, make_message_id, make_user_id

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the cloud Bot API serves files up to 20 MB


class UnsupportedUpdateError(ValueError):
    """The update cannot be turned into an inbound event."""


def to_sender(user: User) -> Sender:
    name = " ".join(part for part in (user.first_name, user.last_name) if part) or (
        user.username or f"Telegram user {user.id}"
    )
    return Sender(
        external_id=make_user_id(user.id),
        name=name,
        username=user.username,
        profile_link=f"https://t.me/{user.username}" if user.username else None,
    )


def flatten_text(text: str | None, entities: list[MessageEntity] | None) -> str | None:
    """Plain text; hidden link targets (text_link) are kept next to their words."""
    if not text or not entities:
        return text
    links = [e for e in entities if e.type == "text_link" and e.url]
    if not links:
        return text
    encoded = text.encode("utf-16-le")
    out: list[str] = []
    cursor = 0
    for entity in sorted(links, key=lambda e: e.offset):
        end = (entity.offset + entity.length) * 2
        out.append(encoded[cursor:end].decode("utf-16-le"))
        out.append(f" ({entity.url})")
        cursor = end
    out.append(encoded[cursor:].decode("utf-16-le"))
    return "".join(out)


def _forward_name(message: Message) -> str | None:
    origin = message.forward_origin
    if isinstance(origin, MessageOriginUser):
        return to_sender(origin.sender_user).name
    if isinstance(origin, MessageOriginHiddenUser):
        return origin.sender_user_name
    if isinstance(origin, MessageOriginChat):
        return origin.sender_chat.title or "a chat"
    if isinstance(origin, MessageOriginChannel):
        return origin.chat.title or "a channel"
    return None


def _too_big(kind: str, name: str, size: int | None) -> str:
    megabytes = (size or 0) / (1024 * 1024)
    return (
        f"[{kind}] The customer sent {name} ({megabytes:.1f} MB); "
        "it is over Telegram's 20 MB download limit and could not be fetched."
    )


def _attachment(message: Message) -> Attachment | str | None:
    """The message's file, or a notice text when it cannot be fetched, or None."""
    unique = ""
    if message.photo:
        photo = max(message.photo, key=lambda p: (p.file_size or 0, p.width * p.height))
        unique = photo.file_unique_id
        candidate = Attachment(
            AttachmentKind.PICTURE,
            make_media_ref(photo.file_id),
            f"photo_{unique}.jpg",
            photo.file_size or 0,
            "image/jpeg",
        )
    elif message.document:
        doc = message.document
        candidate = Attachment(
            AttachmentKind.FILE,
            make_media_ref(doc.file_id),
            doc.file_name or f"file_{doc.file_unique_id}",
            doc.file_size or 0,
            doc.mime_type,
        )
    elif message.video or message.animation or message.video_note:
        video = message.video or message.animation or message.video_note
        assert video is not None
        name = getattr(video, "file_name", None) or f"video_{video.file_unique_id}.mp4"
        candidate = Attachment(
            AttachmentKind.VIDEO,
            make_media_ref(video.file_id),
            name,
            video.file_size or 0,
            getattr(video, "mime_type", None) or "video/mp4",
            duration=video.duration,
        )
    elif message.voice:
        voice = message.voice
        candidate = Attachment(
            AttachmentKind.VOICE,
            make_media_ref(voice.file_id),
            f"voice_{voice.file_unique_id}.ogg",
            voice.file_size or 0,
            voice.mime_type or "audio/ogg",
            duration=voice.duration,
        )
    elif message.audio:
        audio = message.audio
        titled = " - ".join(p for p in (audio.performer, audio.title) if p)
        name = audio.file_name or (
            f"{titled}.mp3" if titled else f"audio_{audio.file_unique_id}.mp3"
        )
        candidate = Attachment(
            AttachmentKind.AUDIO,
            make_media_ref(audio.file_id),
            name,
            audio.file_size or 0,
            audio.mime_type or "audio/mpeg",
            duration=audio.duration,
        )
    elif message.sticker:
        sticker = message.sticker
        extension = "webm" if sticker.is_video else "tgs" if sticker.is_animated else "webp"
        candidate = Attachment(
            AttachmentKind.STICKER,
            make_media_ref(sticker.file_id),
            f"sticker_{sticker.file_unique_id}.{extension}",
            sticker.file_size or 0,
            sticker_id=sticker.file_unique_id,
        )
    else:
        return None
    if candidate.file_size > DOWNLOAD_LIMIT:
        return _too_big(candidate.kind.value, candidate.file_name, candidate.file_size)
    return candidate


def _describe_other(message: Message) -> str | None:
    """A readable line for message kinds amoCRM has no type for."""
    if message.poll:
        options = " / ".join(option.text for option in message.poll.options)
        return f"[poll] {message.poll.question} — {options}"
    if message.dice:
        return f"[dice] {message.dice.emoji} {message.dice.value}"
    if message.game:
        return f"[game] {message.game.title}"
    if message.story:
        return "[story] The customer shared a story"
    if message.invoice:
        return f"[invoice] {message.invoice.title}"
    if message.successful_payment:
        payment = message.successful_payment
        return f"[payment] {payment.total_amount / 100:.2f} {payment.currency}"
    return None


def to_inbound(connection_id: ConnectionId, message: Message) -> InboundMessage:
    if message.from_user is None:
        raise UnsupportedUpdateError("message without a sender")
    text = flatten_text(message.text, message.entities) or flatten_text(
        message.caption, message.caption_entities
    )
    attachments: tuple[Attachment, ...] = ()
    location = contact = None
    found = _attachment(message)
    if isinstance(found, str):
        text = f"{found}\n{text}" if text else found
    elif found is not None:
        attachments = (found,)
        if found.kind is AttachmentKind.STICKER and message.sticker and message.sticker.emoji:
            text = text or message.sticker.emoji
    if message.venue:
        venue = message.venue
        location = Location(
            venue.location.latitude, venue.location.longitude, f"{venue.title}, {venue.address}"
        )
    elif message.location:
        location = Location(message.location.latitude, message.location.longitude)
    if message.contact:
        card = message.contact
        name = " ".join(p for p in (card.first_name, card.last_name) if p)
        contact = ContactCard(name or card.phone_number, card.phone_number)
    if text is None and not attachments and location is None and contact is None:
        text = _describe_other(message) or (
            "[unsupported] The customer sent a kind of Telegram message the bridge cannot show"
        )
    reply = message.reply_to_message
    return InboundMessage(
        connection_id=connection_id,
        chat=make_chat_id(message.chat.id),
        message=make_message_id(message.chat.id, message.message_id),
        sender=to_sender(message.from_user),
        sent_at=message.date.astimezone(UTC),
        text=text,
        attachments=attachments,
        location=location,
        contact=contact,
        reply_to=make_message_id(reply.chat.id, reply.message_id) if reply else None,
        forwarded_from=_forward_name(message),
        media_group=message.media_group_id,
    )


def to_edit(connection_id: ConnectionId, message: Message) -> InboundEdit:
    if message.from_user is None:
        raise UnsupportedUpdateError("edit without a sender")
    edited = message.edit_date or message.date
    moment = edited if isinstance(edited, datetime) else datetime.fromtimestamp(edited, UTC)
    return InboundEdit(
        connection_id=connection_id,
        chat=make_chat_id(message.chat.id),
        message=make_message_id(message.chat.id, message.message_id),
        sender=to_sender(message.from_user),
        edited_at=moment.astimezone(UTC),
        revision=str(int(moment.timestamp())),
        text=flatten_text(message.text, message.entities)
        or flatten_text(message.caption, message.caption_entities),
    )


def to_reaction(
    connection_id: ConnectionId, update_id: int, event: MessageReactionUpdated
) -> InboundReaction:
    if event.user is None:
        raise UnsupportedUpdateError("anonymous reaction")
    emoji = next((r.emoji for r in event.new_reaction if isinstance(r, ReactionTypeEmoji)), None)
    return InboundReaction(
        connection_id=connection_id,
        chat=make_chat_id(event.chat.id),
        message=make_message_id(event.chat.id, event.message_id),
        sender=to_sender(event.user),
        at=event.date.astimezone(UTC),
        revision=str(update_id),
        emoji=emoji,
    )


def button_press_to_inbound(connection_id: ConnectionId, query: CallbackQuery) -> InboundMessage:
    """A pressed text button comes back to amoCRM as the customer's message with its text."""
    message = query.message
    if message is None:
        raise UnsupportedUpdateError("button press without its message")
    text = query.data or ""
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", None) or []:
        for button in row:
            if button.callback_data == query.data:
                text = button.text
    chat_id = message.chat.id
    return InboundMessage(
        connection_id=connection_id,
        chat=make_chat_id(chat_id),
        message=ExternalMessageId(f"{chat_id}:cb{query.id}"),
        sender=to_sender(query.from_user),
        sent_at=datetime.now(UTC),
        text=text,
    )
