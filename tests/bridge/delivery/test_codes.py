"""Each typed delivery failure is reported to amoCRM with its Chats API code (§4.5)."""

from __future__ import annotations

import pytest

from bridge.delivery.codes import delivery_code
from bridge.errors import (
    BadMediaError,
    ChannelAuthError,
    ChatNotFoundError,
    DeliveryError,
    DeliveryOutcomeUnknownError,
    FileTooBigError,
    PermanentDeliveryError,
    RateLimitedError,
    RecipientBlockedError,
    RecipientUnavailableError,
    TransientDeliveryError,
    UnsupportedContentError,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RecipientBlockedError(), 901),
        (RecipientUnavailableError(), 901),
        (ChannelAuthError(), 902),
        (ChatNotFoundError(), 904),
        (FileTooBigError(), 905),
        (BadMediaError(), 905),
        (UnsupportedContentError(), 905),
        (PermanentDeliveryError(), 905),
        (TransientDeliveryError(), 905),
        (RateLimitedError(retry_after=3), 905),
        (DeliveryOutcomeUnknownError(), 905),
        (DeliveryError(), 905),
        (RuntimeError("a bug"), 905),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_each_failure_class_maps_to_its_chats_api_code(error: BaseException, code: int) -> None:
    assert delivery_code(error) == code


def test_a_subclass_an_adapter_defines_takes_its_nearest_parents_code() -> None:
    class BotKickedError(RecipientBlockedError):
        pass

    class ChatGoneError(ChatNotFoundError):
        pass

    assert delivery_code(BotKickedError()) == 901
    assert delivery_code(ChatGoneError()) == 904


def test_delivery_errors_carry_no_code_of_their_own() -> None:
    assert not hasattr(RecipientBlockedError(), "code")
    assert not hasattr(TransientDeliveryError(), "code")
