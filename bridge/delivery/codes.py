"""The one table of what each delivery failure is reported to amoCRM as (Chats API §4.5).

Adapters raise typed errors (``bridge.errors``) and know no Chats API codes; the code of a
failure is the one of the nearest class in its ancestry named here, else ``OTHER``.
"""

from __future__ import annotations

from bridge.errors import (
    ChannelAuthError,
    ChatNotFoundError,
    RecipientBlockedError,
    RecipientUnavailableError,
)

USER_GONE = 901  # the user deleted the conversation / blocked the bot
CHANNEL_DISABLED = 902  # the integration is disabled on the channel's side
CANNOT_CREATE = 904  # the conversation cannot be created (recipient not on the messenger)
OTHER = 905  # anything else; the error text is required with it

CODES: dict[type[BaseException], int] = {
    RecipientBlockedError: USER_GONE,
    ChatNotFoundError: CANNOT_CREATE,
    RecipientUnavailableError: USER_GONE,
    ChannelAuthError: CHANNEL_DISABLED,
}


def delivery_code(error: BaseException) -> int:
    """The Chats API delivery error code for a failure that ended a delivery."""
    for cls in type(error).__mro__:
        code = CODES.get(cls)
        if code is not None:
            return code
    return OTHER
