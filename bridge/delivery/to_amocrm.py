"""Customer → amoCRM: the ``deliver_inbound`` job turns a stored event into Chats API calls."""

from __future__ import annotations

import logging
import time
from typing import Any

from bridge.amojo import AmojoClient, AmojoRejectedError
from bridge.amojo.models import (
    ContactBody,
    EditedMessage,
    EmbeddedAuthor,
    EmbeddedMessage,
    Forwards,
    GeoPoint,
    MessageContent,
    MessageTarget,
    NewMessage,
    Participant,
    QuotedMessage,
)
from bridge.caches import Lookups
from bridge.jobs import JobContext, JobHandler, payload_to_event
from bridge.keys import participant_key
from bridge.media import MediaLinks
from bridge.messages import InboundEdit, InboundEvent, InboundMessage, InboundReaction, Sender
from storage import Store
from storage.models import (
    Connection,
    Contact,
    Conversation,
    DeliveryStatus,
    Direction,
    MessageLink,
)

log = logging.getLogger(__name__)


def message_body(
    content: InboundMessage | InboundEdit, media: MediaLinks, connection_id: str
) -> MessageContent:
    """The Chats API ``message`` object for what a customer wrote (text, media, place,
    contact); an edit gets the same object, so a picture stays a picture."""
    text = content.text or ""
    if content.location is not None:
        location = GeoPoint(lon=float(content.location.lon), lat=float(content.location.lat))
        return MessageContent(
            type="location", text=content.location.title or text, location=location
        )
    if content.contact is not None:
        card = ContactBody(name=content.contact.name, phone=content.contact.phone)
        return MessageContent(type="contact", text=text, contact=card)
    if content.attachments:
        attachment = content.attachments[0]
        return MessageContent(
            type=attachment.kind.value,
            text=text,
            media=media.url_for(connection_id, attachment),
            file_name=attachment.file_name,
            file_size=int(attachment.file_size),
            media_duration=None if attachment.duration is None else int(attachment.duration),
            sticker_id=attachment.sticker_id or None,
        )
    return MessageContent(type="text", text=text or "(empty message)")


def forwarded(event: InboundMessage, body: MessageContent) -> Forwards:
    """``forwards`` for a forwarded message: the original described in full (Telegram says who
    wrote it and when, but not which message it was), the author by name."""
    seconds = (event.forwarded_at or event.sent_at).timestamp()
    embedded = EmbeddedMessage.model_validate(
        body.model_dump(exclude={"media", "sticker_id"})
        | _timestamps(seconds)
        | {"sender": EmbeddedAuthor(name=event.forwarded_from)}
    )
    return Forwards(messages=[embedded])


class InboundDelivery:
    def __init__(
        self, store: Store, amojo: AmojoClient, media: MediaLinks, lookups: Lookups
    ) -> None:
        self._store = store
        self._amojo = amojo
        self._media = media
        self._lookups = lookups

    async def _rows(
        self, conversation_id: int, event: InboundEvent, job: JobContext
    ) -> tuple[Connection, Conversation, Contact, MessageLink | None]:
        # The conversation and contact do not change once the conversation has its amoCRM
        # chat: the steady state of a busy chat needs no read before sending.
        chat = self._lookups.chats.get(conversation_id)
        connection = self._lookups.connection(chat[0].connection_id) if chat else None
        fresh_message = (
            isinstance(event, InboundMessage) and job.attempts == 1 and "link_id" in job.payload
        )
        if chat is not None and connection is not None and fresh_message:
            # First attempt: the link was written with this job and is still queued.
            queued = MessageLink(
                id=job.payload["link_id"],
                conversation_id=conversation_id,
                direction=Direction.IN,
                external_message_id=event.message,
                bridge_msgid=job.payload["bridge_msgid"],
                status=DeliveryStatus.QUEUED,
            )
            return connection, *chat, queued
        async with self._store.read() as uow:
            conversation = await uow.conversations.get(conversation_id)
            assert conversation is not None and conversation.id is not None
            connection = await uow.connections.get(conversation.connection_id)
            contact = await uow.contacts.get(conversation.contact_id)
            assert connection is not None and contact is not None
            link = (
                await uow.links.by_external(conversation.id, event.message, Direction.IN)
                if isinstance(event, InboundMessage)
                else None
            )
        self._lookups.put_connection(connection)
        if conversation.amojo_chat_id is not None:
            self._lookups.chats.put(conversation_id, (conversation, contact))
        return connection, conversation, contact, link

    def handler(self) -> JobHandler:
        return JobHandler(run=self.run, on_dead=self.on_dead)

    async def run(self, job: JobContext) -> None:
        event = payload_to_event(job.payload["event"])
        connection, conversation, contact, link = await self._rows(
            job.payload["conversation_id"], event, job
        )
        if link is not None and link.status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED):
            return  # a previous attempt got through before the job could be completed
        sender_id = participant_key(
            connection.channel, connection.external_account_id, contact.external_user_id
        )
        if conversation.amojo_chat_id is None:
            await self._create_chat(connection, conversation, contact, event.sender, sender_id)
        if isinstance(event, InboundMessage):
            assert link is not None and link.bridge_msgid is not None and link.id is not None
            amojo_msgid = await self._send(
                connection, conversation, event, sender_id, link.bridge_msgid
            )
            link_id = link.id
            # Commits with the job's completion (no commit of its own). If the process dies
            # first, the job sends again with the same msgid; amoCRM refuses it as a
            # duplicate and ``_send`` finds it in the chat's history: still one message.
            job.on_success(
                lambda uow: uow.links.update(
                    link_id,
                    amojo_msgid=amojo_msgid or None,
                    status=DeliveryStatus.DELIVERED,
                    last_error=None,
                )
            )
            return
        # Edits and reactions name an earlier message: find it on either side.
        target = await self._target(conversation, event.message)
        if target is None:
            log.info(
                "%s of a message amoCRM never got; nothing to change",
                "edit" if isinstance(event, InboundEdit) else "reaction",
                extra={"connection_id": connection.id},
            )
            return
        if isinstance(event, InboundEdit):
            await self._amojo.edit_message(
                connection.scope_id,
                EditedMessage(
                    **_timestamps(event.edited_at.timestamp()),
                    msgid=target.msgid,
                    id=target.id,
                    conversation_id=conversation.amojo_conversation_id,
                    message=message_body(event, self._media, connection.id),
                ),
            )
        else:
            assert isinstance(event, InboundReaction)
            await self._amojo.react(
                connection.scope_id,
                conversation.amojo_conversation_id,
                sender_id,
                msgid=target.msgid,
                amojo_msgid=target.id,
                emoji=event.emoji,
            )

    async def _target(
        self, conversation: Conversation, external_message_id: str
    ) -> MessageTarget | None:
        """How the Chats API names a message of this chat: ``msgid`` (ours) for a customer's
        message, ``id`` (amoCRM's) for an operator's; None when amoCRM does not have it."""
        assert conversation.id is not None
        async with self._store.read() as uow:
            link = await uow.links.by_external(conversation.id, external_message_id)
        if link is None:
            return None
        if link.direction == Direction.IN:
            delivered = link.status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
            return (
                MessageTarget(msgid=link.bridge_msgid) if link.bridge_msgid and delivered else None
            )
        return MessageTarget(id=link.amojo_msgid) if link.amojo_msgid else None

    async def _create_chat(
        self,
        connection: Connection,
        conversation: Conversation,
        contact: Contact,
        sender: Sender,
        sender_id: str,
    ) -> None:
        user = _participant(sender_id, sender)
        answer = await self._amojo.create_chat(
            connection.scope_id, conversation.amojo_conversation_id, user
        )
        chat_id = answer.get("id")
        user_answer = answer.get("user")
        amojo_user: dict[str, Any] = user_answer if isinstance(user_answer, dict) else {}
        async with self._store.transaction() as uow:
            if isinstance(chat_id, str) and chat_id:
                conversation.amojo_chat_id = chat_id
                await uow.save(conversation)
            if isinstance(amojo_user.get("id"), str):
                contact.amojo_user_id = amojo_user["id"]
                await uow.save(contact)

    async def _send(
        self,
        connection: Connection,
        conversation: Conversation,
        event: InboundMessage,
        sender_id: str,
        msgid: str,
    ) -> str:
        quoted = await self._target(conversation, event.reply_to) if event.reply_to else None
        content = message_body(event, self._media, connection.id)
        payload = NewMessage(
            **_timestamps(event.sent_at.timestamp()),
            msgid=msgid,
            conversation_id=conversation.amojo_conversation_id,
            silent=False,
            sender=_participant(sender_id, event.sender),
            message=content,
            # a quote of a message amoCRM never saw is left out
            reply_to=QuotedMessage(message=quoted) if quoted is not None else None,
            forwards=forwarded(event, content) if event.forwarded_from else None,
        )
        try:
            sent = await self._amojo.send_message(connection.scope_id, payload)
        except AmojoRejectedError as error:
            # A msgid is accepted once; a retry after a lost answer is refused. If amoCRM's
            # history holds our msgid, the earlier attempt went through: that is success.
            found = await self._find_in_history(connection, conversation, msgid)
            if found is None:
                raise
            log.info("message was already delivered (%s)", error.error_type)
            return found
        return sent.amojo_msgid

    async def _find_in_history(
        self, connection: Connection, conversation: Conversation, msgid: str
    ) -> str | None:
        if not conversation.amojo_chat_id:
            return None
        for message in await self._amojo.history(connection.scope_id, conversation.amojo_chat_id):
            nested = message.get("message")
            inner: dict[str, Any] = nested if isinstance(nested, dict) else message
            if inner.get("client_id") == msgid:
                return str(inner.get("id") or "")
        return None

    async def on_dead(self, job: JobContext, error: BaseException) -> None:
        event = payload_to_event(job.payload["event"])
        if not isinstance(event, InboundMessage):
            return
        async with self._store.transaction() as uow:
            link = await uow.links.by_external(
                job.payload["conversation_id"], event.message, Direction.IN
            )
            if link is not None and link.id is not None:
                await uow.links.update(
                    link.id, status=DeliveryStatus.FAILED, last_error=str(error)
                )


def _participant(sender_id: str, sender: Sender) -> Participant:
    return Participant(
        id=sender_id, name=sender.name or "Customer", profile_link=sender.profile_link or None
    )


def _timestamps(seconds: float) -> dict[str, int]:
    seconds = seconds or time.time()
    return {"timestamp": int(seconds), "msec_timestamp": int(seconds * 1000)}
