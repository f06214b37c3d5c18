"""Pure conversion: aiogram updates → channel-neutral inbound events."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
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

from bridge.ids import ConnectionId
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
from channels.telegram.ids import (
    make_chat_id,
    make_media_ref,
    make_message_id,
    make_press_id,
    make_user_id,
    parse_callback_data,
)

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


STICKER_TYPES = {  # (extension, MIME type) by sticker format
    "static": ("webp", "image/webp"),
    "animated": ("tgs", "application/x-tgsticker"),
    "video": ("webm", "video/webm"),
}


def _extension(mime: str | None, default: str) -> str:
    guessed = mimetypes.guess_extension(mime) if mime else None
    return guessed.lstrip(".") if guessed else default


def _media(message: Message) -> Attachment | None:
    """The message's file, whatever its size; None when it carries no file."""
    if message.photo:
        # Telegram lists sizes smallest first; take the biggest, not a preview.
        photo = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return Attachment(
            AttachmentKind.PICTURE,
            make_media_ref(photo.file_id),
            f"photo_{photo.file_unique_id}.jpg",
            photo.file_size or 0,
            "image/jpeg",
        )
    # An animation also comes with a ``document`` copy of itself: look at it first.
    video = message.animation or message.video or message.video_note
    if video is not None:
        mime = getattr(video, "mime_type", None) or "video/mp4"
        name = getattr(video, "file_name", None)
        return Attachment(
            AttachmentKind.VIDEO,
            make_media_ref(video.file_id),
            name or f"video_{video.file_unique_id}.{_extension(mime, 'mp4')}",
            video.file_size or 0,
            mime,
            duration=video.duration,
        )
    if message.document:
        doc = message.document
        return Attachment(
            AttachmentKind.FILE,
            make_media_ref(doc.file_id),
            doc.file_name or f"file_{doc.file_unique_id}.{_extension(doc.mime_type, 'bin')}",
            doc.file_size or 0,
            doc.mime_type,
        )
    if message.voice:
        voice = message.voice
        return Attachment(
            AttachmentKind.VOICE,
            make_media_ref(voice.file_id),
            f"voice_{voice.file_unique_id}.ogg",
            voice.file_size or 0,
            voice.mime_type or "audio/ogg",
            duration=voice.duration,
        )
    if message.audio:
        audio = message.audio
        mime = audio.mime_type or "audio/mpeg"
        titled = " - ".join(p for p in (audio.performer, audio.title) if p)
        stem = titled or f"audio_{audio.file_unique_id}"
        return Attachment(
            AttachmentKind.AUDIO,
            make_media_ref(audio.file_id),
            audio.file_name or f"{stem}.{_extension(mime, 'mp3')}",
            audio.file_size or 0,
            mime,
            duration=audio.duration,
        )
    if message.sticker:
        sticker = message.sticker
        shape = "video" if sticker.is_video else "animated" if sticker.is_animated else "static"
        extension, mime = STICKER_TYPES[shape]
        return Attachment(
            AttachmentKind.STICKER,
            make_media_ref(sticker.file_id),
            f"sticker_{sticker.file_unique_id}.{extension}",
            sticker.file_size or 0,
            mime,
            sticker_id=sticker.file_unique_id,
        )
    return None


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
        chat = message.story.chat
        origin = chat.title or (f"@{chat.username}" if chat.username else None)
        return f"[story] The customer shared a story{f' from {origin}' if origin else ''}"
    if message.invoice:
        return f"[invoice] {message.invoice.title}"
    if message.successful_payment:
        payment = message.successful_payment
        return f"[payment] {payment.total_amount / 100:.2f} {payment.currency}"
    return None


@dataclass(frozen=True, slots=True)
class Content:
    """What one Telegram message says, in the bridge's terms (shared by messages and edits)."""

    text: str | None
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    contact: ContactCard | None = None


def to_content(message: Message) -> Content:
    text = flatten_text(message.text, message.entities) or flatten_text(
        message.caption, message.caption_entities
    )
    attachments: tuple[Attachment, ...] = ()
    media = _media(message)
    if media is not None and media.file_size > DOWNLOAD_LIMIT:
        # amoCRM could never download it through us: say so in words instead.
        notice = _too_big(media.kind.value, media.file_name, media.file_size)
        text = f"{notice}\n{text}" if text else notice
    elif media is not None:
        attachments = (media,)
        if media.kind is AttachmentKind.STICKER and message.sticker and message.sticker.emoji:
            text = text or message.sticker.emoji
    location = contact = None
    if message.venue:
        venue = message.venue
        title = ", ".join(part for part in (venue.title, venue.address) if part)
        location = Location(venue.location.latitude, venue.location.longitude, title or None)
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
    return Content(text, attachments, location, contact)


def to_inbound(connection_id: ConnectionId, message: Message) -> InboundMessage:
    if message.from_user is None:
        raise UnsupportedUpdateError("message without a sender")
    content = to_content(message)
    reply = message.reply_to_message
    origin = message.forward_origin
    return InboundMessage(
        connection_id=connection_id,
        chat=make_chat_id(message.chat.id),
        message=make_message_id(message.chat.id, message.message_id),
        sender=to_sender(message.from_user),
        sent_at=message.date.astimezone(UTC),
        text=content.text,
        attachments=content.attachments,
        location=content.location,
        contact=content.contact,
        reply_to=make_message_id(reply.chat.id, reply.message_id) if reply else None,
        forwarded_from=_forward_name(message),
        forwarded_at=origin.date.astimezone(UTC) if origin is not None else None,
        media_group=message.media_group_id,
    )


def to_edit(connection_id: ConnectionId, message: Message) -> InboundEdit:
    if message.from_user is None:
        raise UnsupportedUpdateError("edit without a sender")
    edited = message.edit_date or message.date
    moment = edited if isinstance(edited, datetime) else datetime.fromtimestamp(edited, UTC)
    content = to_content(message)
    return InboundEdit(
        connection_id=connection_id,
        chat=make_chat_id(message.chat.id),
        message=make_message_id(message.chat.id, message.message_id),
        sender=to_sender(message.from_user),
        edited_at=moment.astimezone(UTC),
        revision=str(int(moment.timestamp())),
        text=content.text,
        attachments=content.attachments,
        location=content.location,
        contact=content.contact,
    )


def to_reaction(
    connection_id: ConnectionId, update_id: int, event: MessageReactionUpdated
) -> InboundReaction | None:
    """None when there is nothing amoCRM can show (a custom or paid reaction)."""
    if event.user is None:
        raise UnsupportedUpdateError("anonymous reaction")
    emoji = next((r.emoji for r in event.new_reaction if isinstance(r, ReactionTypeEmoji)), None)
    if emoji is None and event.new_reaction:
        return None  # not a removal: a reaction amoCRM has no emoji for
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
    """A pressed text button comes back to amoCRM as the customer's message with its text,
    quoting the operator's message that carried the button."""
    message = query.message
    if message is None:
        raise UnsupportedUpdateError("button press without its message")
    text = parse_callback_data(query.data or "")
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", None) or []:
        for button in row:
            if button.callback_data == query.data:
                text = button.text
    if not text:
        raise UnsupportedUpdateError("button press whose button text is unknown")
    chat_id = message.chat.id
    return InboundMessage(
        connection_id=connection_id,
        chat=make_chat_id(chat_id),
        message=make_press_id(chat_id, query.id),
        sender=to_sender(query.from_user),
        sent_at=datetime.now(UTC),
        text=text,
        reply_to=make_message_id(chat_id, message.message_id),
    )
