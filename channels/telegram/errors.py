"""aiogram exceptions → the bridge's delivery errors, with texts an operator can read."""

from __future__ import annotations

import asyncio

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
    DeliveryError,
    PermanentDeliveryError,
    RateLimitedError,
    RecipientUnavailableError,
    TransientDeliveryError,
    UnsupportedContentError,
)

# Chats API delivery error codes (shared/amojo-chats-api.md §4.5).
USER_GONE = 901
CHANNEL_DISABLED = 902
CANNOT_CREATE = 904
OTHER = 905


def _readable(error: TelegramAPIError) -> str:
    text = error.message or str(error)
    for prefix in ("Forbidden: ", "Bad Request: "):
        text = text.removeprefix(prefix)
    return text[:1].upper() + text[1:] if text else "Telegram refused the message"


def map_error(error: BaseException) -> DeliveryError:
    """The one table of what each Telegram failure means for delivery."""
    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, TelegramRetryAfter):
        return RateLimitedError("Telegram rate limit", retry_after=float(error.retry_after))
    if isinstance(error, TelegramForbiddenError):
        return RecipientUnavailableError(_readable(error), code=USER_GONE)
    if isinstance(error, TelegramUnauthorizedError):
        return PermanentDeliveryError(
            "The bot token was revoked or is invalid (Telegram: Unauthorized)",
            code=CHANNEL_DISABLED,
        )
    if isinstance(error, TelegramMigrateToChat):
        return PermanentDeliveryError("The group moved to a supergroup", code=OTHER)
    if isinstance(error, TelegramEntityTooLarge):
        return UnsupportedContentError("The file is too large for Telegram", code=OTHER)
    if isinstance(error, TelegramBadRequest):
        text = _readable(error)
        if "chat not found" in text.lower():
            return RecipientUnavailableError(
                "Telegram chat not found (the customer never started the bot or deleted it)",
                code=CANNOT_CREATE,
            )
        return PermanentDeliveryError(f"Telegram refused the message: {text}", code=OTHER)
    if isinstance(error, TelegramNotFound):
        return PermanentDeliveryError("Telegram API method not found", code=OTHER)
    if isinstance(error, TelegramServerError | TelegramConflictError):
        return TransientDeliveryError(f"Telegram is unavailable: {_readable(error)}")
    if isinstance(error, TelegramNetworkError):
        return TransientDeliveryError(f"Telegram could not be reached: {error.message}")
    if isinstance(error, ClientDecodeError):
        return TransientDeliveryError("Telegram answered with something that is not JSON")
    if isinstance(error, TimeoutError | asyncio.TimeoutError | ConnectionError):
        return TransientDeliveryError("Telegram did not answer in time")
    if isinstance(error, TelegramAPIError):
        return PermanentDeliveryError(
            f"Telegram refused the message: {_readable(error)}", code=OTHER
        )
    return TransientDeliveryError(f"Unexpected error talking to Telegram: {type(error).__name__}")
