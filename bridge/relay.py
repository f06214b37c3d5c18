"""Receipt side of the relay: every event is made durable (with its job) before it is acknowledged.

- ``accept`` / ``reject`` implement ``InboundSink`` for the adapters (customer → amoCRM).
- ``accept_hook`` stores an amoCRM hook (amoCRM → customer) for the worker to deliver.
Nothing here talks to a network peer; the delivery jobs (``bridge.delivery``) do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bridge.amojo.hooks import hook_media_group
from bridge.caches import BoundedCache, TimedCache
from bridge.errors import UnknownScopeError
from bridge.ids import ConnectionId
from bridge.jobs import JobKind, event_to_payload
from bridge.messages import InboundEdit, InboundEvent, InboundMessage, InboundReaction, Sender
from storage import Store, UnitOfWork
from storage.models import Connection, ConnectionState, Direction

log = logging.getLogger(__name__)

ALBUM_WAIT = 1.0  # seconds; telegram-notes.md suggests a 1-2 s quiet period for albums


def conversation_key(channel: str, external_account_id: str, external_chat_id: str) -> str:
    """Our ``conversation_id`` for amoCRM: stable, so a chat maps to one amoCRM chat forever."""
    return f"{channel}-{external_account_id}-{external_chat_id}"


def participant_key(channel: str, external_account_id: str, external_user_id: str) -> str:
    """Our participant id for amoCRM (``sender.id``): one per messenger user and bot."""
    return f"{channel}-{external_account_id}-user-{external_user_id}"


def hook_lock_key(connection_id: str, order_key: str) -> str:
    """Hooks of one amoCRM chat run one at a time, in the order they arrived."""
    return f"out:{connection_id}:{order_key}"


def message_key(channel: str, external_account_id: str, external_message_id: str) -> str:
    """Our ``msgid``: deterministic, so a resend can be recognised by amoCRM and by us."""
    return f"{channel}-{external_account_id}-{external_message_id}"


class Relay:
    def __init__(self, store: Store, cache_size: int = 50_000) -> None:
        self._store = store
        # Contacts and conversations are never deleted and their ids never change, so the
        # hot path may skip looking them up again. Caches are filled only after commit.
        self._connections: TimedCache[str, Connection] = TimedCache(1_000)
        self._scopes: TimedCache[str, Connection] = TimedCache(1_000)
        self._contacts: BoundedCache[tuple[str, str], tuple[int, str, str | None]] = BoundedCache(
            cache_size
        )
        self._conversations: BoundedCache[tuple[str, str], int] = BoundedCache(cache_size)

    async def _connection(self, uow: UnitOfWork, connection_id: str) -> Connection | None:
        return await _cached(uow, self._connections, connection_id, uow.connections.get)

    async def _connection_by_scope(self, uow: UnitOfWork, scope_id: str) -> Connection | None:
        return await _cached(uow, self._scopes, scope_id, uow.connections.by_scope)

    async def _contact_id(self, uow: UnitOfWork, connection_id: str, sender: Sender) -> int:
        key = (connection_id, sender.external_id)
        cached = self._contacts.get(key)
        if cached is not None and cached[1:] == (sender.name, sender.username):
            return cached[0]
        contact = await uow.contacts.upsert(
            connection_id, sender.external_id, sender.name, sender.username
        )
        assert contact.id is not None
        value = (contact.id, sender.name, sender.username)
        uow.after_commit(lambda: self._contacts.put(key, value))
        return contact.id

    async def _conversation_id(
        self, uow: UnitOfWork, connection: Connection, chat: str, contact_id: int
    ) -> int:
        key = (connection.id, chat)
        cached = self._conversations.get(key)
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
        uow.after_commit(lambda: self._conversations.put(key, conversation_id))
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
        lock_key = f"in:{conversation_id}"
        if isinstance(event, InboundMessage):
            link_id = await uow.links.insert(
                conversation_id=conversation_id,
                direction=Direction.IN,
                external_message_id=event.message,
                bridge_msgid=message_key(
                    connection.channel, connection.external_account_id, event.message
                ),
            )
            if link_id is None:
                log.info("duplicate message ignored", extra={"connection_id": connection.id})
                return
            dedup_key = f"in:{link_id}"
            link_ids = {
                "link_id": link_id,
                "bridge_msgid": message_key(
                    connection.channel, connection.external_account_id, event.message
                ),
            }
        else:
            assert isinstance(event, InboundEdit | InboundReaction)
            dedup_key = event.dedup_key
            link_ids = {}
        await uow.jobs.enqueue(
            JobKind.DELIVER_INBOUND,
            {"event": event_to_payload(event), "conversation_id": conversation_id, **link_ids},
            connection_id=connection.id,
            lock_key=lock_key,
            dedup_key=dedup_key,
        )

    async def reject(self, connection_id: ConnectionId, raw: bytes, reason: str) -> None:
        """Keep an update the adapter could not read, as a failed job visible in ``status``."""
        async with self._store.transaction() as uow:
            await uow.jobs.record_failed(
                JobKind.REJECTED_UPDATE,
                {"raw": raw.decode("utf-8", "replace")},
                reason,
                connection_id=connection_id,
            )
        log.warning("update rejected: %s", reason, extra={"connection_id": connection_id})

    # -- amoCRM hooks ------------------------------------------------------------------------
    async def accept_hook(
        self, scope_id: str, data: dict[str, Any], dedup_id: str | None, order_key: str | None
    ) -> bool:
        """Store a hook for delivery. False when it is a duplicate of one already stored."""
        # amoCRM splits a message with several files into hooks sharing a media_group_id, with
        # no end marker: wait a moment so the first can take the others along as one album.
        run_at = time.time() + ALBUM_WAIT if hook_media_group(data) and order_key else None

        async def store_hook(uow: UnitOfWork) -> bool:
            connection = await self._connection_by_scope(uow, scope_id)
            if connection is None or connection.state != ConnectionState.ACTIVE:
                raise UnknownScopeError(f"unknown scope {scope_id}")
            job_id = await uow.jobs.enqueue(
                JobKind.PROCESS_HOOK,
                {"scope_id": scope_id, "hook": data},
                connection_id=connection.id,
                lock_key=hook_lock_key(connection.id, order_key) if order_key else None,
                dedup_key=f"hook:{scope_id}:{dedup_id}" if dedup_id else None,
                run_at=run_at,
            )
            return job_id is not None

        return await self._store.grouped(store_hook)


async def _cached(
    uow: UnitOfWork,
    cache: TimedCache[str, Connection],
    key: str,
    read: Callable[[str], Awaitable[Connection | None]],
) -> Connection | None:
    """A connection row from ``cache``, else read in ``uow`` and cached once it commits."""
    cached = cache.get(key)
    if cached is not None:
        return cached
    row = await read(key)
    if row is not None:
        uow.after_commit(lambda: cache.put(key, row))
    return row
