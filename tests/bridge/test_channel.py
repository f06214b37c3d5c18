"""Adapters depend on these names: changing them is a breaking change for every channel."""

from __future__ import annotations

import bridge.channel


def test_public_names_of_the_adapter_contract() -> None:
    assert sorted(bridge.channel.__all__) == [
        "ASGIApp",
        "Channel",
        "ChannelAccount",
        "ChannelCapabilities",
        "ChannelConnection",
        "ChannelRegistry",
        "InboundSink",
        "MediaStream",
        "ReceiverHealth",
        "ReceiverState",
        "SupportsReactions",
        "SupportsTyping",
    ]
    assert "receivers" in dir(bridge.channel.Channel)  # how readiness and status see receivers
    for name in bridge.channel.__all__:
        assert hasattr(bridge.channel, name)
