"""amo-chat-bridge: messengers ⇄ amoCRM Chats API."""

__version__ = "0.1.0"
