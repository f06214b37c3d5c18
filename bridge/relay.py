"""Receipt side of the relay: every event is made durable (with its job) before it is acknowledged.

- ``accept`` / ``reject`` implement ``InboundSink`` for the adapters (customer → amoCRM).
- ``accept_hook`` / ``reject_hook`` store an amoCRM hook (amoCRM → customer) for the worker to
  deliver, or keep one that cannot be read as a failed job.
Nothing here talks to a network peer; the delivery jobs (``bridge.delivery``) do.
"""

from __future__ import annotations

import logging
import time
from enum import StrEnum
from typing import Any

from bridge.amojo.models import AmojoHook
from bridge.caches import Lookups
from bridge.errors import ScopeMismatchError, UnknownScopeError
from bridge.ids import ConnectionId
from bridge.jobs import JobKind, event_to_payload
from bridge.keys import (
    conversation_key,
    edit_dedup_key,
    hook_body_dedup_key,
    hook_dedup_key,
    hook_lock_key,
    inbound_lock_key,
    inbound_message_dedup_key,
    message_key,
    reaction_dedup_key,
)
from bridge.messages import InboundEdit, InboundEvent, InboundMessage, Sender
from storage import ScopeBinding, Store, UnitOfWork
from storage.models import Connection, ConnectionState, Direction

log = logging.getLogger(__name__)

ALBUM_WAIT = 1.0  # seconds; telegram-notes.md suggests a 1-2 s quiet period for albums
# A typing indicator or a reaction this old is news no more: shown now, it would mislead.
STALE_AFTER = 60.0


class HookOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # the same hook was stored before
    STALE = "stale"  # a typing or reaction hook too old to show


def storable_text(raw: bytes) -> str:
    """Bytes from outside as text any database keeps (PostgreSQL refuses NUL)."""
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")


class Relay:
    def __init__(self, store: Store, lookups: Lookups) -> None:
        self._store = store
        self._lookups = lookups

    async def _connection(self, uow: UnitOfWork, connection_id: str) -> Connection | None:
        cached = self._lookups.connection(connection_id)
        if cached is not None:
            return cached
        row = await uow.connections.get(connection_id)
        if row is not None:
            uow.after_commit(lambda: self._lookups.put_connection(row))
        return row

    async def _contact_id(self, uow: UnitOfWork, connection_id: str, sender: Sender) -> int:
        key = (connection_id, sender.external_id)
        cached = self._lookups.contacts.get(key)
        if cached is not None and cached[1:] == (sender.name, sender.username):
            return cached[0]
        contact = await uow.contacts.upsert(
            connection_id, sender.external_id, sender.name, sender.username
        )
        assert contact.id is not None
        value = (contact.id, sender.name, sender.username)
        uow.after_commit(lambda: self._lookups.contacts.put(key, value))
        return contact.id

    async def _conversation_id(
        self, uow: UnitOfWork, connection: Connection, chat: str, contact_id: int
    ) -> int:
        key = (connection.id, chat)
        cached = self._lookups.conversation_ids.get(key)
        if cached is not None:
            return cached
        conversation = await uow.conversations.upsert(
            connection.id,
            chat,
            contact_id,
            conversation_key(connection.channel, connection.external_account_id, chat),
        )
        assert conversation.id is not None
        conversation_id = conversation.id
        uow.after_commit(lambda: self._lookups.conversation_ids.put(key, conversation_id))
        return conversation_id

    # -- InboundSink -------------------------------------------------------------------------
    async def accept(self, event: InboundEvent) -> None:
        """Store the event and its delivery job in one transaction; duplicates are no-ops."""
        await self._store.grouped(lambda uow: self._accept(uow, event))

    async def _accept(self, uow: UnitOfWork, event: InboundEvent) -> None:
        connection = await self._connection(uow, event.connection_id)
        if connection is None or connection.state != ConnectionState.ACTIVE:
            log.warning(
                "event for an inactive connection dropped",
                extra={"connection_id": event.connection_id},
            )
            return
        contact_id = await self._contact_id(uow, connection.id, event.sender)
        conversation_id = await self._conversation_id(uow, connection, event.chat, contact_id)
        link_ids: dict[str, Any] = {}
        if isinstance(event, InboundMessage):
            msgid = message_key(connection.channel, connection.external_account_id, event.message)
            link_id = await uow.links.insert(
                conversation_id=conversation_id,
                direction=Direction.IN,
                external_message_id=event.message,
                bridge_msgid=msgid,
            )
            if link_id is None:
                log.info("duplicate message ignored", extra={"connection_id": connection.id})
                return
            dedup_key = inbound_message_dedup_key(link_id)
            link_ids = {"link_id": link_id, "bridge_msgid": msgid}
        elif isinstance(event, InboundEdit):
            dedup_key = edit_dedup_key(connection.id, event.message, event.revision)
        else:
            dedup_key = reaction_dedup_key(connection.id, event.message, event.revision)
        await uow.jobs.enqueue(
            JobKind.DELIVER_INBOUND,
            {"event": event_to_payload(event), "conversation_id": conversation_id, **link_ids},
            connection_id=connection.id,
            lock_key=inbound_lock_key(conversation_id),
            dedup_key=dedup_key,
        )

    async def reject(self, connection_id: ConnectionId, raw: bytes, reason: str) -> None:
        """Keep an update the adapter could not read, as a failed job visible in ``status``."""
        async with self._store.transaction() as uow:
            await uow.jobs.record_failed(
                JobKind.REJECTED_UPDATE,
                {"raw": storable_text(raw)},
                reason,
                connection_id=connection_id,
            )
        log.warning("update rejected: %s", reason, extra={"connection_id": connection_id})

    # -- amoCRM hooks ------------------------------------------------------------------------
    @staticmethod
    async def _scope(uow: UnitOfWork, scope_id: str) -> ScopeBinding:
        """The active connection of a scope, read in the caller's transaction: a scope that
        was disconnected a moment ago (by this process or the CLI) is refused at once."""
        binding = await uow.connections.active_by_scope(scope_id)
        if binding is None:
            raise UnknownScopeError(f"unknown scope {scope_id}")
        return binding

    async def accept_hook(self, scope_id: str, hook: AmojoHook, raw: bytes) -> HookOutcome:
        """Store a validated hook for delivery, unless it is a duplicate or stale.

        Raises UnknownScopeError (no active connection) or ScopeMismatchError (the hook names
        another account than its scope's).
        """
        if hook.kind == "message":
            dedup_key = hook_dedup_key(scope_id, hook.amojo_msgid or "")
        else:
            # Typing and reactions carry no id of their own: the same bytes again are a replay.
            dedup_key = hook_body_dedup_key(scope_id, raw)
        order_key = hook.order_key
        # amoCRM splits a message with several files into hooks sharing a media_group_id, with
        # no end marker: wait a moment so the first can take the others along as one album.
        run_at = time.time() + ALBUM_WAIT if hook.media_group_id and order_key else None

        async def store_hook(uow: UnitOfWork) -> HookOutcome:
            connection = await self._scope(uow, scope_id)
            if hook.account_id != connection.account_id:
                raise ScopeMismatchError("the hook's account_id is not its scope's account")
            if hook.kind != "message" and _stale(hook):
                return HookOutcome.STALE
            job_id = await uow.jobs.enqueue(
                JobKind.PROCESS_HOOK,
                {"scope_id": scope_id, "hook": hook.to_payload()},
                connection_id=connection.connection_id,
                lock_key=hook_lock_key(connection.connection_id, order_key) if order_key else None,
                dedup_key=dedup_key,
                run_at=run_at,
            )
            return HookOutcome.STORED if job_id is not None else HookOutcome.DUPLICATE

        return await self._store.grouped(store_hook)

    async def reject_hook(self, scope_id: str, raw: bytes, reason: str) -> None:
        """Keep a signed hook that cannot be read as a failed job (amoCRM never sends it
        again): counted in ``status``, listed by ``amo-bridge retry``. Raises
        UnknownScopeError when the scope has no active connection (nothing is kept)."""
        async with self._store.transaction() as uow:
            connection = await self._scope(uow, scope_id)
            await uow.jobs.record_failed(
                JobKind.REJECTED_HOOK,
                {"scope_id": scope_id, "raw": storable_text(raw)},
                reason,
                connection_id=connection.connection_id,
            )
        log.warning("hook rejected: %s", reason, extra={"connection_id": connection.connection_id})


def _stale(hook: AmojoHook, now: float | None = None) -> bool:
    """A hook that says when it was made, made more than ``STALE_AFTER`` ago."""
    return hook.time is not None and (now or time.time()) - hook.time > STALE_AFTER
