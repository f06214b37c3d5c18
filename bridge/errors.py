"""The bridge's error tree. Each class's docstring is its default message.

```
BridgeError
├── ConfigError                  → CLI exit 2, one line
├── SignatureError               → HTTP 401
├── UnknownScopeError            → HTTP 404
├── UnsupportedHookError         → job failed, kept for inspection
└── DeliveryError
    ├── TransientDeliveryError(retry_after)   → retried by the worker
    │   └── RateLimitedError                   → retried no earlier than retry_after
    └── PermanentDeliveryError                 → no retry; failure recorded and reported
        ├── RecipientUnavailableError          (bot blocked, user deactivated, chat gone)
        └── UnsupportedContentError            (the other side cannot carry it)
```
"""

from __future__ import annotations


class BridgeError(Exception):
    """The bridge failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(BridgeError):
    """The configuration is missing or malformed."""


class SignatureError(BridgeError):
    """The request signature is missing or wrong."""


class UnknownScopeError(BridgeError):
    """No connection has this scope."""


class UnsupportedHookError(BridgeError):
    """The hook is of a kind the bridge does not handle."""


class DeliveryError(BridgeError):
    """A message could not be delivered."""

    def __init__(self, message: str | None = None, *, code: int | None = None) -> None:
        super().__init__(message)
        # Chats API delivery error code (901..905) to report when this ends the delivery.
        self.code = code


class TransientDeliveryError(DeliveryError):
    """The peer is unavailable for now; try again later."""

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class RateLimitedError(TransientDeliveryError):
    """The peer asks us to slow down."""


class PermanentDeliveryError(DeliveryError):
    """The peer refused the message; retrying will not help."""


class RecipientUnavailableError(PermanentDeliveryError):
    """The recipient cannot receive messages (blocked the bot, deactivated, chat gone)."""


class UnsupportedContentError(PermanentDeliveryError):
    """The message cannot be carried to the other side."""
