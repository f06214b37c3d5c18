"""aiogram's exceptions become the bridge's typed errors, and no text carries a URL or token."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage

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
    TransientDeliveryError,
)
from channels.telegram.errors import describe, map_error, scrub

METHOD = SendMessage(chat_id=1, text="hi")
TOKEN = "123456789:AAHsecretPartOfTheBotToken_xyz"
URL = f"https://api.telegram.org/bot{TOKEN}/sendMessage"


def network(cause: BaseException, message: str = "boom") -> TelegramNetworkError:
    """A TelegramNetworkError as aiogram's session raises it: ``from`` the aiohttp error."""
    try:
        raise TelegramNetworkError(METHOD, message) from cause
    except TelegramNetworkError as error:
        return error


def connector_error() -> aiohttp.ClientConnectorError:
    key = aiohttp.client_reqrep.ConnectionKey(
        "api.telegram.org", 443, True, True, None, None, None
    )
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


CASES: list[tuple[str, BaseException, type[DeliveryError], bool]] = [
    # (name, aiogram exception, expected class, expected to be exactly that class)
    ("retry after", TelegramRetryAfter(METHOD, "Too Many Requests", 7), RateLimitedError, True),
    (
        "blocked",
        TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user"),
        RecipientBlockedError,
        True,
    ),
    (
        "deactivated",
        TelegramForbiddenError(METHOD, "Forbidden: user is deactivated"),
        RecipientBlockedError,
        True,
    ),
    ("revoked token", TelegramUnauthorizedError(METHOD, "Unauthorized"), ChannelAuthError, True),
    (
        "chat not found",
        TelegramBadRequest(METHOD, "Bad Request: chat not found"),
        ChatNotFoundError,
        True,
    ),
    (
        "too large",
        TelegramEntityTooLarge(METHOD, "Request Entity Too Large"),
        FileTooBigError,
        True,
    ),
    (
        "other bad request",
        TelegramBadRequest(METHOD, "Bad Request: message text is empty"),
        PermanentDeliveryError,
        True,
    ),
    (
        "migrated",
        TelegramMigrateToChat(METHOD, "Bad Request: group migrated", -100123),
        PermanentDeliveryError,
        True,
    ),
    ("method not found", TelegramNotFound(METHOD, "Not Found"), PermanentDeliveryError, True),
    (
        "server error",
        TelegramServerError(METHOD, "Internal Server Error"),
        TransientDeliveryError,
        True,
    ),
    ("conflict", TelegramConflictError(METHOD, "Conflict"), TransientDeliveryError, True),
    (
        "not json",
        ClientDecodeError("Failed to decode object", ValueError("x"), "<html>"),
        TransientDeliveryError,
        True,
    ),
    ("refused", network(connector_error()), TransientDeliveryError, True),
    (
        "read timeout",
        network(TimeoutError(), "Request timeout error"),
        DeliveryOutcomeUnknownError,
        True,
    ),
    (
        "dropped mid-answer",
        network(aiohttp.ServerDisconnectedError()),
        DeliveryOutcomeUnknownError,
        True,
    ),
    (
        "payload cut",
        network(aiohttp.ClientPayloadError("Response payload is not completed")),
        DeliveryOutcomeUnknownError,
        True,
    ),
    ("bare timeout", TimeoutError(), DeliveryOutcomeUnknownError, True),
    ("unexpected", RuntimeError("a bug"), TransientDeliveryError, True),
]


@pytest.mark.parametrize(
    ("raised", "expected", "exact"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_telegram_failure_becomes_its_typed_error(
    raised: BaseException, expected: type[DeliveryError], exact: bool
) -> None:
    mapped = map_error(raised)
    assert type(mapped) is expected if exact else isinstance(mapped, expected)
    assert str(mapped)  # always a readable reason


def test_rate_limit_keeps_telegrams_wait() -> None:
    mapped = map_error(TelegramRetryAfter(METHOD, "Too Many Requests", 7))
    assert isinstance(mapped, RateLimitedError) and mapped.retry_after == 7.0


def test_an_uncertain_send_is_still_retried_as_transient() -> None:
    assert isinstance(map_error(network(TimeoutError())), TransientDeliveryError)


def test_a_typed_error_passes_through_unchanged() -> None:
    error = BadMediaError("The file's link is not an http(s) URL")
    assert map_error(error) is error


def test_forbidden_text_reads_without_telegrams_prefix() -> None:
    mapped = map_error(TelegramForbiddenError(METHOD, "Forbidden: bot was blocked by the user"))
    assert str(mapped) == "Bot was blocked by the user"


@pytest.mark.parametrize(
    "raised",
    [
        network(aiohttp.ServerDisconnectedError(), f"ServerDisconnectedError: {URL}"),
        network(connector_error(), f"ClientConnectorError: Cannot connect to {URL}"),
        TelegramBadRequest(METHOD, f"Bad Request: wrong http url {URL}"),
        RuntimeError(f"something about /bot{TOKEN}/getMe"),
    ],
    ids=["disconnect", "connector", "bad request", "bare path"],
)
def test_no_error_text_carries_the_token(raised: BaseException) -> None:
    for text in (str(map_error(raised)), describe(raised)):
        assert TOKEN not in text
        assert TOKEN.split(":")[1] not in text
        assert "api.telegram.org" not in text


def test_scrub_removes_urls_and_tokens_and_keeps_the_rest() -> None:
    text = f"TooManyRedirects: 302, message='', url='{URL}' while {TOKEN} was used"
    cleaned = scrub(text)
    assert "secretPart" not in cleaned and "api.telegram.org" not in cleaned
    assert cleaned.startswith("TooManyRedirects: 302")
    assert scrub("Bot was blocked by the user") == "Bot was blocked by the user"
