"""Validated Chats API hooks (``bridge.amojo.models``) → what the delivery works with."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.amojo.models import AmojoHook, HookConversation, HookMarkup
from bridge.messages import AttachmentKind, Button, OutboundAttachment

MEDIA_TYPES = {kind.value for kind in AttachmentKind}


@dataclass(frozen=True, slots=True)
class ConversationRef:
    amojo_chat_id: str | None  # amoCRM's chat id
    client_id: str | None  # our conversation_id; missing in "write first" chats


@dataclass(frozen=True, slots=True)
class MessageHook:
    conversation: ConversationRef
    amojo_msgid: str
    type: str
    text: str = ""
    attachment: OutboundAttachment | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    reply_to_amojo_msgid: str | None = None
    reply_to_bridge_msgid: str | None = None
    media_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class TypingHook:
    conversation: ConversationRef
    user_id: str | None


@dataclass(frozen=True, slots=True)
class ReactionHook:
    conversation: ConversationRef
    target_ids: tuple[str, ...]  # amoCRM id and/or our msgid of the message reacted to
    emoji: str | None
    remove: bool


Hook = MessageHook | TypingHook | ReactionHook


def _conversation(ref: HookConversation) -> ConversationRef:
    return ConversationRef(ref.id or None, ref.client_id or None)


def _buttons(markup: HookMarkup | None) -> tuple[tuple[Button, ...], ...]:
    parsed: list[tuple[Button, ...]] = []
    for row in (markup.buttons if markup else None) or ():
        cells = row if isinstance(row, list) else [row]
        buttons = tuple(
            Button(text=cell.text, url=cell.url or None) for cell in cells if cell.text
        )
        if buttons:
            parsed.append(buttons)
    return tuple(parsed)


def to_hook(body: AmojoHook) -> Hook:
    """The delivery's view of a validated hook (empty strings read as absent)."""
    if body.message is not None:
        outer, inner = body.message, body.message.message
        attachment = None
        if inner.type in MEDIA_TYPES and inner.media:
            attachment = OutboundAttachment(
                kind=AttachmentKind(inner.type),
                url=inner.media,
                file_name=inner.file_name,
                file_size=inner.file_size,
            )
        reply = inner.reply_to.message if inner.reply_to else None
        return MessageHook(
            conversation=_conversation(outer.conversation),
            amojo_msgid=inner.id,
            type=inner.type,
            text=inner.text,
            attachment=attachment,
            buttons=_buttons(inner.markup),
            reply_to_amojo_msgid=(reply.id or None) if reply else None,
            reply_to_bridge_msgid=(reply.msgid or reply.client_id or None) if reply else None,
            media_group_id=inner.media_group_id or None,
        )
    assert body.action is not None
    typing = body.action.typing
    if typing is not None:
        # The docs' table and example disagree on where the user sits; accept both.
        user = typing.user or body.action.user
        return TypingHook(_conversation(typing.conversation), (user.id or None) if user else None)
    reaction = body.action.reaction
    assert reaction is not None
    return ReactionHook(
        conversation=_conversation(reaction.conversation),
        target_ids=reaction.targets(),
        emoji=reaction.emoji or None,
        remove=reaction.type == "unreact",
    )
