"""Every key and id the bridge mints: ids it sends to amoCRM, and job lock and dedup keys.

One home, so the receipt side (``bridge.relay``) and the delivery side (``bridge.delivery``)
agree without importing each other. Standard library only.

Lengths: a lock key must fit ``job.lock_key`` (160), a dedup key ``job.dedup_key`` (255); the
parts that come from outside are bounded where they enter (``bridge.amojo.models``).
"""

from __future__ import annotations

import hashlib

from bridge.ids import AmojoConversationId, BridgeMsgId


# -- ids amoCRM sees ---------------------------------------------------------------------------
def conversation_key(
    channel: str, external_account_id: str, external_chat_id: str
) -> AmojoConversationId:
    """Our ``conversation_id`` for amoCRM: stable, so a chat maps to one amoCRM chat forever."""
    return AmojoConversationId(f"{channel}-{external_account_id}-{external_chat_id}")


def participant_key(channel: str, external_account_id: str, external_user_id: str) -> str:
    """Our participant id for amoCRM (``sender.id``): one per messenger user and bot."""
    return f"{channel}-{external_account_id}-user-{external_user_id}"


def message_key(channel: str, external_account_id: str, external_message_id: str) -> BridgeMsgId:
    """Our ``msgid``: deterministic, so a resend can be recognised by amoCRM and by us."""
    return BridgeMsgId(f"{channel}-{external_account_id}-{external_message_id}")


# -- job lock keys: jobs with one key run one at a time, in order -------------------------------
def inbound_lock_key(conversation_id: int) -> str:
    """What one customer chat sends to amoCRM goes out in the order it was written."""
    return f"in:{conversation_id}"


def hook_lock_key(connection_id: str, order_key: str) -> str:
    """Hooks of one amoCRM chat run one at a time, in the order they arrived."""
    return f"out:{connection_id}:{order_key}"


# -- job dedup keys: enqueueing the same work twice is a no-op ---------------------------------
def inbound_message_dedup_key(link_id: int) -> str:
    """A customer message is delivered once: its link row is unique per messenger message."""
    return f"in:{link_id}"


def edit_dedup_key(connection_id: str, external_message_id: str, revision: str) -> str:
    return f"edit:{connection_id}:{external_message_id}:{revision}"


def reaction_dedup_key(connection_id: str, external_message_id: str, revision: str) -> str:
    return f"react:{connection_id}:{external_message_id}:{revision}"


def hook_dedup_key(scope_id: str, amojo_msgid: str) -> str:
    """A message hook is stored once per amoCRM message id."""
    return f"hook:{scope_id}:{amojo_msgid}"


def hook_body_dedup_key(scope_id: str, body: bytes) -> str:
    """Hooks without an id of their own (typing, reactions) are told apart by their bytes:
    the same hook posted again is a replay."""
    return f"hook:{scope_id}:sha256:{hashlib.sha256(body).hexdigest()}"


def report_dedup_key(amojo_msgid: str, status: int) -> str:
    """One delivery status of each kind per amoCRM message."""
    return f"report:{amojo_msgid}:{status}"
