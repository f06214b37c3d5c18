"""Doubles of the services the bridge talks to, strict enough to catch what the real ones refuse.

``emulators.amojo`` imitates the amoCRM Chats API, ``emulators.telegram`` the Telegram Bot API.
They live apart from the code they imitate (``bridge.amojo``, ``channels.telegram``) and import
none of it, except the Chats API's signing functions, which both sides must agree on.
"""
