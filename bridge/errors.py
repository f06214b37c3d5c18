"""The bridge's error tree. Each class's docstring is its default message.

```
BridgeError
├── ConfigError                  → CLI exit 2, one line
├── UnknownScopeError            → HTTP 404
├── ScopeMismatchError           → HTTP 403 (a hook for another account than its scope's)
├── UnsupportedHookError         → job failed, kept for inspection
└── DeliveryError
    ├── TransientDeliveryError(retry_after)   → retried by the worker
    │   ├── RateLimitedError                   → retried no earlier than retry_after
    │   └── DeliveryOutcomeUnknownError        (sent, but whether it arrived is unknown)
    └── PermanentDeliveryError                 → no retry; failure recorded and reported
        ├── RecipientUnavailableError          (the recipient cannot receive messages)
        │   ├── RecipientBlockedError          (blocked the bot, deactivated)
        │   └── ChatNotFoundError              (never started the bot, chat unknown)
        ├── ChannelAuthError                   (the messenger refuses our credentials)
        ├── NotResentError                     (outcome unknown; BRIDGE_UNCERTAIN_SENDS=report)
        └── UnsupportedContentError            (the other side cannot carry it)
            ├── FileTooBigError
            └── BadMediaError                  (the file's link cannot be fetched or read)
```

Adapters raise these classes and nothing else; what amoCRM is told about each (its delivery
error code) is decided in one place, ``bridge.delivery.codes``.
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


class UnknownScopeError(BridgeError):
    """No connection has this scope."""


class ScopeMismatchError(BridgeError):
    """The hook names another amoCRM account than the one its scope belongs to."""


class UnsupportedHookError(BridgeError):
    """The hook is of a kind the bridge does not handle."""


class DeliveryError(BridgeError):
    """A message could not be delivered."""


class TransientDeliveryError(DeliveryError):
    """The peer is unavailable for now; try again later."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(TransientDeliveryError):
    """The peer asks us to slow down."""


class DeliveryOutcomeUnknownError(TransientDeliveryError):
    """The request went out but no answer came back: it may or may not have been delivered."""


class PermanentDeliveryError(DeliveryError):
    """The peer refused the message; retrying will not help."""


class NotResentError(PermanentDeliveryError):
    """The message may not have reached the customer, and it is not sent again, so that it
    cannot arrive twice."""


class RecipientUnavailableError(PermanentDeliveryError):
    """The recipient cannot receive messages (blocked the bot, deactivated, chat gone)."""


class RecipientBlockedError(RecipientUnavailableError):
    """The recipient blocked the bot or deleted their account."""


class ChatNotFoundError(RecipientUnavailableError):
    """The chat does not exist for the messenger (the customer never started the bot)."""


class ChannelAuthError(PermanentDeliveryError):
    """The messenger rejected the bridge's credentials (the bot token was revoked)."""


class UnsupportedContentError(PermanentDeliveryError):
    """The message cannot be carried to the other side."""


class FileTooBigError(UnsupportedContentError):
    """The file is too big for the messenger."""


class BadMediaError(UnsupportedContentError):
    """The file behind the message's link cannot be fetched or used."""
