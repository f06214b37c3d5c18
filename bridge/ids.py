"""Identifier types. External ids are opaque strings made and parsed by each adapter."""

from __future__ import annotations

from typing import NewType

ConnectionId = NewType("ConnectionId", str)  # ours: uuid4 hex
ScopeId = NewType("ScopeId", str)  # amoCRM: "{channel_id}_{account_amojo_id}"
AmojoAccountId = NewType("AmojoAccountId", str)
AmojoConversationId = NewType("AmojoConversationId", str)  # ours, sent as payload.conversation_id
AmojoChatId = NewType("AmojoChatId", str)  # amoCRM's chat uuid (conversation_ref_id)
AmojoMsgId = NewType("AmojoMsgId", str)  # amoCRM's id of a message
BridgeMsgId = NewType("BridgeMsgId", str)  # ours, sent as payload.msgid
ExternalChatId = NewType("ExternalChatId", str)
ExternalUserId = NewType("ExternalUserId", str)
ExternalMessageId = NewType("ExternalMessageId", str)
MediaRef = NewType("MediaRef", str)  # adapter-owned reference to a downloadable file
