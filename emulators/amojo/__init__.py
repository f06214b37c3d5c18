"""Emulator of the amoCRM Chats API (``app.AmojoEmulator``)."""
