"""The amoCRM Chats API: signing, client, hook parsing."""

from bridge.amojo.client import (
    AmojoAPIError,
    AmojoClient,
    AmojoRateLimitedError,
    AmojoRejectedError,
    AmojoTransientError,
    AmojoUnavailableError,
    SentMessage,
)
from bridge.amojo.signing import AmojoAuth, verify_hook_signature

__all__ = [
    "AmojoAPIError",
    "AmojoAuth",
    "AmojoClient",
    "AmojoRateLimitedError",
    "AmojoRejectedError",
    "AmojoTransientError",
    "AmojoUnavailableError",
    "SentMessage",
    "verify_hook_signature",
]
