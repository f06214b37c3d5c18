"""Emulator of the Telegram Bot API (``app.TelegramEmulator``)."""
