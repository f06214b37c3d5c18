"""amoCRM → customer: hooks become messenger sends, then delivery statuses back to amoCRM."""

from __future__ import annotations

import logging
from typing import Any

from bridge.amojo import AmojoClient
from bridge.amojo.hooks import Hook, MessageHook, ReactionHook, TypingHook, to_hook
from bridge.amojo.models import decode_hook
from bridge.caches import Lookups
from bridge.channel import ChannelRegistry, SupportsReactions, SupportsTyping
from bridge.delivery.codes import OTHER, delivery_code
from bridge.delivery.uncertain import UncertainSends
from bridge.errors import (
    BridgeError,
    ChatNotFoundError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownScopeError,
)
from bridge.ids import ConnectionId, ExternalChatId, ExternalMessageId
from bridge.jobs import JobContext, JobHandler, JobKind
from bridge.keys import hook_lock_key, report_dedup_key
from bridge.messages import OutboundMessage, OutboundReaction
from storage import Store, UnitOfWork
from storage.models import Connection, ConnectionState, Conversation, DeliveryStatus, Direction

log = logging.getLogger(__name__)

DELIVERED = 1
FAILED = -1


class OutboundDelivery:
    def __init__(
        self,
        store: Store,
        amojo: AmojoClient,
        channels: ChannelRegistry,
        lookups: Lookups,
        uncertain: UncertainSends,
    ) -> None:
        self._store = store
        self._uncertain = uncertain
        self._amojo = amojo
        self._channels = channels
        # Conversations are never deleted; the amoCRM chat id is the one field that changes,
        # and only from unknown to known (kept up to date below).
        self._lookups = lookups
        self._conversations = lookups.conversations

    def hook_handler(self) -> JobHandler:
        return JobHandler(run=self.run_hook, on_dead=self.hook_dead)

    def report_handler(self) -> JobHandler:
        return JobHandler(run=self.run_report)

    # -- process_amojo_hook ------------------------------------------------------------------
    async def run_hook(self, job: JobContext) -> None:
        hook = _hook(job.payload)
        connection = await self._connection(job.payload["scope_id"])
        if isinstance(hook, MessageHook):
            await self._deliver_message(connection, hook, job)
        elif isinstance(hook, TypingHook):
            await self._deliver_typing(connection, hook)
        else:
            await self._deliver_reaction(connection, hook)

    async def _connection(self, scope_id: str) -> Connection:
        connection = self._lookups.connection_by_scope(scope_id)
        if connection is None:
            async with self._store.read() as uow:
                connection = await uow.connections.by_scope(scope_id)
            if connection is not None:
                self._lookups.put_connection(connection)
        if connection is None or connection.state != ConnectionState.ACTIVE:
            raise UnknownScopeError(f"no active connection for scope {scope_id}")
        return connection

    def _conversation_key(
        self, connection: Connection, client_id: str | None, chat_id: str | None
    ) -> tuple[str, str | None, str | None]:
        return (connection.id, client_id, chat_id)

    async def _conversation(
        self,
        connection: Connection,
        client_id: str | None,
        chat_id: str | None,
        found: Conversation | None = None,
    ) -> Conversation:
        """The conversation a hook names (``found``: already read by the caller)."""
        key = self._conversation_key(connection, client_id, chat_id)
        conversation = found or self._conversations.get(key)
        if conversation is None:
            async with self._store.read() as uow:
                conversation = await uow.conversations.by_amojo(connection.id, client_id, chat_id)
        if conversation is None:
            raise ChatNotFoundError(
                "This chat is unknown to the bridge: the customer has not written to the bot yet"
            )
        if chat_id and conversation.amojo_chat_id != chat_id:
            conversation_id = conversation.id
            assert conversation_id is not None
            # an UPDATE, not a save of the row: the row is shared through the cache
            await self._store.grouped(
                lambda uow: uow.conversations.set_amojo_chat_id(conversation_id, chat_id)
            )
            conversation.amojo_chat_id = chat_id
        self._conversations.put(key, conversation)
        return conversation

    async def _deliver_message(
        self, connection: Connection, hook: MessageHook, job: JobContext
    ) -> None:
        client_id, chat_id = hook.conversation.client_id, hook.conversation.amojo_chat_id
        known = self._conversations.get(self._conversation_key(connection, client_id, chat_id))
        async with self._store.read() as uow:  # one read for both, when both are needed
            existing = await uow.links.by_amojo_msgid(hook.amojo_msgid)
            if known is None and existing is None:
                known = await uow.conversations.by_amojo(connection.id, client_id, chat_id)
        if existing is not None and existing.direction == Direction.IN:
            log.debug(
                "echo of an imported message dropped", extra={"connection_id": connection.id}
            )
            return
        if existing is not None and existing.status in (
            DeliveryStatus.SENT,
            DeliveryStatus.DELIVERED,
        ):
            # Sent already: by an earlier attempt, or inside an album another hook sent.
            await self._queue_report(connection, hook.amojo_msgid, DELIVERED)
            return
        conversation = await self._conversation(connection, client_id, chat_id, known)
        assert conversation.id is not None
        hooks = [hook, *await self._album_rest(connection, hook, job)]
        message = OutboundMessage(
            text="\n\n".join(dict.fromkeys(h.text for h in hooks if h.text)),
            attachments=tuple(h.attachment for h in hooks if h.attachment),
            buttons=next((h.buttons for h in hooks if h.buttons), ()),
            reply_to=await self._reply_target(hook),
        )
        channel = self._channels.get(connection.channel)
        receipt = await self._uncertain.send(
            job,
            lambda: channel.send(
                ConnectionId(connection.id), ExternalChatId(conversation.external_chat_id), message
            ),
        )
        # Each hook of an album is its own message in amoCRM and in Telegram: link them pairwise.
        conversation_id = conversation.id

        async def record(uow: UnitOfWork) -> None:
            # Built here, not outside: a group commit that fails runs this again on its own.
            carriers = iter(receipt.attachments)
            for sent in hooks:
                carrier = next(carriers, None) if sent.attachment else None
                await self._record_sent(
                    uow, conversation_id, sent.amojo_msgid, carrier or receipt.first
                )

        # Shared with the other workers' records: one commit for many sends.
        await self._store.grouped(record)
        for sent in hooks:
            await self._report_delivered(connection, sent.amojo_msgid, job)

    async def _report_delivered(
        self, connection: Connection, amojo_msgid: str, job: JobContext
    ) -> None:
        """Tell amoCRM at once; only when that fails does the status wait in the queue.

        The send is recorded before this, so a crash here leaves a "sent" link whose hook job
        runs again and queues the status instead of sending the message twice.
        """
        try:
            await self._amojo.update_delivery_status(connection.scope_id, amojo_msgid, DELIVERED)
        except TransientDeliveryError as error:
            log.info("delivery status queued: %s", error, extra={"connection_id": connection.id})
            await self._queue_report(connection, amojo_msgid, DELIVERED)
            return
        except PermanentDeliveryError as error:
            log.warning(
                "amoCRM refused the delivery status of %s: %s",
                amojo_msgid,
                error,
                extra={"connection_id": connection.id},
            )
            return
        # If the process dies before this commits, the job runs again, finds the link "sent"
        # and queues the report: amoCRM hears "delivered" twice, the customer gets one message.
        job.on_success(lambda uow: self._mark_delivered(uow, amojo_msgid))

    @staticmethod
    async def _record_sent(
        uow: UnitOfWork, conversation_id: int, amojo_msgid: str, external_id: str | None
    ) -> None:
        values: dict[str, Any] = {
            "external_message_id": external_id,
            "status": DeliveryStatus.SENT,
            "last_error": None,
        }
        # The first attempt writes a new link: one statement. A retry finds its own link.
        inserted = await uow.links.insert(
            conversation_id=conversation_id,
            direction=Direction.OUT,
            amojo_msgid=amojo_msgid,
            **values,
        )
        if inserted is None:
            link = await uow.links.by_amojo_msgid(amojo_msgid)
            assert link is not None and link.id is not None
            await uow.links.update(link.id, **values)

    async def _album_rest(
        self, connection: Connection, hook: MessageHook, job: JobContext
    ) -> list[MessageHook]:
        """The other files of the operator's message, when its hooks arrived together: they
        wait behind this one (same chat, same media_group_id) and go out as one album."""
        if hook.media_group_id is None or hook.attachment is None:
            return []
        order_key = hook.conversation.client_id or hook.conversation.amojo_chat_id
        if not order_key:
            return []
        async with self._store.read() as uow:
            waiting = await uow.jobs.waiting(
                JobKind.PROCESS_HOOK, hook_lock_key(connection.id, order_key)
            )
        rest: list[MessageHook] = []
        for other in waiting:
            if other.id == job.id:
                continue
            try:
                parsed = _hook(other.payload)
            except BridgeError:
                continue
            if (
                isinstance(parsed, MessageHook)
                and parsed.media_group_id == hook.media_group_id
                and parsed.attachment is not None
                and parsed.amojo_msgid != hook.amojo_msgid
            ):
                rest.append(parsed)
        return rest

    async def _reply_target(self, hook: MessageHook) -> ExternalMessageId | None:
        """The Telegram message the operator quoted, known by amoCRM's id or by our msgid."""
        if not hook.reply_to_amojo_msgid and not hook.reply_to_bridge_msgid:
            return None
        async with self._store.read() as uow:
            link = None
            if hook.reply_to_amojo_msgid:
                link = await uow.links.by_amojo_msgid(hook.reply_to_amojo_msgid)
            if link is None and hook.reply_to_bridge_msgid:
                link = await uow.links.by_bridge_msgid(hook.reply_to_bridge_msgid)
        if link is None or not link.external_message_id:
            return None
        return ExternalMessageId(link.external_message_id)

    async def _deliver_typing(self, connection: Connection, hook: TypingHook) -> None:
        channel = self._channels.get(connection.channel)
        if not isinstance(channel, SupportsTyping):
            return
        conversation = await self._conversation(
            connection, hook.conversation.client_id, hook.conversation.amojo_chat_id
        )
        try:
            await channel.send_typing(
                ConnectionId(connection.id), ExternalChatId(conversation.external_chat_id)
            )
        except DeliveryError as error:
            # A typing indicator is stale in 5 s; retrying it later would only mislead.
            log.info("typing not shown: %s", error, extra={"connection_id": connection.id})

    async def _deliver_reaction(self, connection: Connection, hook: ReactionHook) -> None:
        channel = self._channels.get(connection.channel)
        if not isinstance(channel, SupportsReactions):
            return
        conversation = await self._conversation(
            connection, hook.conversation.client_id, hook.conversation.amojo_chat_id
        )
        async with self._store.read() as uow:
            link = None
            for key in hook.target_ids:
                # The hook may name the message by amoCRM's id or by our msgid.
                link = await uow.links.by_amojo_msgid(key) or await uow.links.by_bridge_msgid(key)
                if link is not None:
                    break
        if link is None or not link.external_message_id:
            log.info(
                "reaction on a message the bridge does not know",
                extra={"connection_id": connection.id},
            )
            return
        await channel.send_reaction(
            ConnectionId(connection.id),
            ExternalChatId(conversation.external_chat_id),
            OutboundReaction(
                ExternalMessageId(link.external_message_id), None if hook.remove else hook.emoji
            ),
        )

    async def hook_dead(self, job: JobContext, error: BaseException) -> None:
        """The message will never reach the customer: say so in amoCRM, with the reason."""
        try:
            hook = _hook(job.payload)
        except BridgeError:
            return
        if not isinstance(hook, MessageHook):
            return
        code = delivery_code(error)
        if not isinstance(error, PermanentDeliveryError) and code == OTHER:
            reason = f"Could not reach the messenger: {error}"
        else:
            reason = str(error) or type(error).__name__
        async with self._store.transaction() as uow:
            connection = await uow.connections.by_scope(job.payload["scope_id"])
            if connection is None:
                return
            link = await uow.links.by_amojo_msgid(hook.amojo_msgid)
            if link is not None and link.id is not None:
                await uow.links.update(link.id, status=DeliveryStatus.FAILED, last_error=reason)
            else:
                conversation = await uow.conversations.by_amojo(
                    connection.id, hook.conversation.client_id, hook.conversation.amojo_chat_id
                )
                if conversation is not None:
                    await uow.links.add(
                        conversation_id=conversation.id,
                        direction=Direction.OUT,
                        amojo_msgid=hook.amojo_msgid,
                        status=DeliveryStatus.FAILED,
                        last_error=reason,
                    )
            await uow.connections.set_error(connection.id, reason)
            await self._queue_report_in(
                uow, connection, hook.amojo_msgid, FAILED, code=code, error=reason
            )

    # -- report_delivery ---------------------------------------------------------------------
    async def _queue_report(self, connection: Connection, amojo_msgid: str, status: int) -> None:
        async with self._store.transaction() as uow:
            await self._queue_report_in(uow, connection, amojo_msgid, status)

    @staticmethod
    async def _queue_report_in(
        uow: UnitOfWork,
        connection: Connection,
        amojo_msgid: str,
        status: int,
        *,
        code: int | None = None,
        error: str | None = None,
    ) -> None:
        await uow.jobs.enqueue(
            JobKind.REPORT_DELIVERY,
            {
                "scope_id": connection.scope_id,
                "amojo_msgid": amojo_msgid,
                "status": status,
                "error_code": code,
                "error": error[:1000] if error else None,
            },
            connection_id=connection.id,
            dedup_key=report_dedup_key(amojo_msgid, status),
        )

    async def run_report(self, job: JobContext) -> None:
        payload = job.payload
        await self._amojo.update_delivery_status(
            payload["scope_id"],
            payload["amojo_msgid"],
            payload["status"],
            payload.get("error_code"),
            payload.get("error"),
        )
        if payload["status"] == DELIVERED:
            job.on_success(lambda uow: self._mark_delivered(uow, payload["amojo_msgid"]))

    @staticmethod
    async def _mark_delivered(uow: UnitOfWork, amojo_msgid: str) -> None:
        link = await uow.links.by_amojo_msgid(amojo_msgid)
        if link is not None and link.id is not None and link.status == DeliveryStatus.SENT:
            await uow.links.update(link.id, status=DeliveryStatus.DELIVERED)


def _hook(payload: dict[str, Any]) -> Hook:
    """The hook a job stores, decoded by the model that validated it at receipt."""
    return to_hook(decode_hook(payload.get("hook")))
