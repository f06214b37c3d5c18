"""aiogram exceptions → the bridge's typed delivery errors, with texts an operator can read.

Every text this adapter produces goes through ``scrub``: aiohttp's messages carry the request
URL, and a Bot API URL carries the bot token (``…/bot<id>:<secret>/sendMessage``).
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
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

from bridge.errors import (
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

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>)]*")
# A bot token outside a URL (a path, a repr): digits, a colon, then the secret.
_TOKEN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{8,}")

# aiohttp errors raised before a single byte of the request left: the send certainly failed.
_NOT_SENT = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.InvalidURL,
    aiohttp.TooManyRedirects,
    ConnectionRefusedError,
)


def scrub(text: str) -> str:
    """The text without any URL or bot token in it."""
    return _TOKEN.sub("<token>", _URL.sub("<url>", text))


def _readable(error: TelegramAPIError) -> str:
    text = scrub(error.message or str(error))
    for prefix in ("Forbidden: ", "Bad Request: "):
        text = text.removeprefix(prefix)
    return text[:1].upper() + text[1:] if text else "Telegram refused the message"


def _network_error(error: BaseException) -> DeliveryError:
    """A failure on the way to Telegram: known not sent, or outcome unknown.

    A timeout or a connection lost after the request was written may hide a message that
    Telegram did send; only failures before the request left are known to have sent nothing.
    """
    cause = error.__cause__ if isinstance(error, TelegramNetworkError) else error
    name = type(cause).__name__ if cause is not None else type(error).__name__
    if isinstance(cause, _NOT_SENT):
        return TransientDeliveryError(f"Telegram could not be reached ({name})")
    if isinstance(cause, TimeoutError | asyncio.TimeoutError):
        return DeliveryOutcomeUnknownError(
            "Telegram did not answer in time; the message may or may not have been sent"
        )
    return DeliveryOutcomeUnknownError(
        f"The connection to Telegram failed before it answered ({name}); "
        "the message may or may not have been sent"
    )


def map_error(error: BaseException) -> DeliveryError:
    """The one table of what each Telegram failure means for delivery."""
    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, TelegramRetryAfter):
        return RateLimitedError("Telegram rate limit", retry_after=float(error.retry_after))
    if isinstance(error, TelegramForbiddenError):
        return RecipientBlockedError(_readable(error))
    if isinstance(error, TelegramUnauthorizedError):
        return ChannelAuthError("The bot token was revoked or is invalid (Telegram: Unauthorized)")
    if isinstance(error, TelegramMigrateToChat):
        return PermanentDeliveryError("The group moved to a supergroup")
    if isinstance(error, TelegramEntityTooLarge):
        return FileTooBigError("The file is too large for Telegram")
    if isinstance(error, TelegramBadRequest):
        text = _readable(error)
        if "chat not found" in text.lower():
            return ChatNotFoundError(
                "Telegram chat not found (the customer never started the bot or deleted it)"
            )
        return PermanentDeliveryError(f"Telegram refused the message: {text}")
    if isinstance(error, TelegramNotFound):
        return PermanentDeliveryError("Telegram API method not found")
    if isinstance(error, TelegramServerError | TelegramConflictError):
        return TransientDeliveryError(f"Telegram is unavailable: {_readable(error)}")
    if isinstance(error, TelegramNetworkError | aiohttp.ClientError | TimeoutError | OSError):
        return _network_error(error)
    if isinstance(error, ClientDecodeError):
        return TransientDeliveryError("Telegram answered with something that is not JSON")
    if isinstance(error, TelegramAPIError):
        return PermanentDeliveryError(f"Telegram refused the message: {_readable(error)}")
    return TransientDeliveryError(f"Unexpected error talking to Telegram: {type(error).__name__}")


def describe(error: BaseException) -> str:
    """One line for a log or a status column, never with a URL or token in it."""
    if isinstance(error, TelegramUnauthorizedError):
        return "Telegram rejected the bot token (Unauthorized)"
    if isinstance(error, ClientDecodeError):
        return "Telegram answered with something that is not JSON"
    if isinstance(error, TelegramNetworkError | aiohttp.ClientError | OSError | TimeoutError):
        cause = error.__cause__ if isinstance(error, TelegramNetworkError) else error
        return f"Telegram could not be reached ({type(cause or error).__name__})"
    if isinstance(error, TelegramAPIError):
        return f"Telegram answered an error: {_readable(error)}"
    return scrub(f"{type(error).__name__}: {error}")
