"""Adapters build these messages: changing their names is a breaking change for every channel."""

from __future__ import annotations

import bridge.messages


def test_public_names_of_the_message_contract() -> None:
    for name in bridge.messages.__all__:
        assert hasattr(bridge.messages, name)
    assert {
        "InboundMessage",
        "InboundEdit",
        "InboundReaction",
        "OutboundMessage",
        "Attachment",
        "Sender",
    } <= set(bridge.messages.__all__)
