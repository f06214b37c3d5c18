"""Identifier types. External ids are opaque strings made and parsed by each adapter."""

from __future__ import annotations

from typing import NewType

ConnectionId = NewType("ConnectionId", str)  # ours: uuid4 hex
AmojoConversationId = NewType("AmojoConversationId", str)  # ours, sent as payload.conversation_id
BridgeMsgId = NewType("BridgeMsgId", str)  # ours, sent as payload.msgid
ExternalChatId = NewType("ExternalChatId", str)
ExternalUserId = NewType("ExternalUserId", str)
ExternalMessageId = NewType("ExternalMessageId", str)
MediaRef = NewType("MediaRef", str)  # adapter-owned reference to a downloadable file
