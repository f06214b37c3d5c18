"""Telegram adapter (aiogram 3)."""

from channels.telegram.lazy_types import import_aiogram_lazily

import_aiogram_lazily()

from channels.telegram.channel import TelegramChannel  # noqa: E402

__all__ = ["TelegramChannel", "create_channel"]


def create_channel(api_url: str, *, timeout: float = 30.0) -> TelegramChannel:
    return TelegramChannel(api_url, timeout=timeout)
