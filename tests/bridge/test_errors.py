"""The error tree: default messages from docstrings, and what the worker and routes read off it."""

from __future__ import annotations

import pytest

from bridge.errors import (
    BridgeError,
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    RateLimitedError,
    RecipientUnavailableError,
    ScopeMismatchError,
    TransientDeliveryError,
    UnknownScopeError,
    UnsupportedContentError,
    UnsupportedHookError,
)


@pytest.mark.parametrize(
    "kind",
    [
        ConfigError,
        UnknownScopeError,
        ScopeMismatchError,
        UnsupportedHookError,
        DeliveryError,
        TransientDeliveryError,
        RateLimitedError,
        PermanentDeliveryError,
        RecipientUnavailableError,
        UnsupportedContentError,
    ],
)
def test_every_error_is_a_bridge_error_with_a_default_message(kind: type[BridgeError]) -> None:
    error = kind()
    assert isinstance(error, BridgeError)
    assert error.message == (kind.__doc__ or "").strip() != ""


def test_a_given_message_replaces_the_default() -> None:
    assert str(UnknownScopeError("unknown scope s1")) == "unknown scope s1"


def test_a_transient_error_carries_how_long_to_wait() -> None:
    limited = RateLimitedError(retry_after=3.5)
    assert (limited.retry_after, isinstance(limited, TransientDeliveryError)) == (3.5, True)
    assert TransientDeliveryError().retry_after is None
