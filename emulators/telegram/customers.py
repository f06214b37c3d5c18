"""What customers do in the Telegram emulator: write, edit, react, press buttons, block a bot.

Each action changes the chat as Telegram would and queues the update a bot then receives by
getUpdates or webhook. Tests call these directly; a driver in another process goes through the
control routes (``control.py``).
"""

from __future__ import annotations

import secrets
from typing import Any

from emulators.telegram.records import BotState, ChatState, FileRecord, quoted, unix_now
from emulators.telegram.state import EmulatorState


class CustomerActions(EmulatorState):
    """``EmulatorState`` plus the customers' side of each chat."""

    def _user_chat(self, token: str, user_id: int) -> tuple[BotState, ChatState]:
        if user_id in self.blocked:
            raise ValueError(f"user {user_id} has blocked the bot; call unblock_user first")
        bot = self.bot(token)
        chat = self.chat(bot, user_id, create=True)
        assert chat is not None
        return bot, chat

    def _existing(self, chat: ChatState, message_id: int) -> dict[str, Any]:
        if message_id not in chat.messages:
            raise ValueError(f"no message {message_id} in chat {chat.chat_id}")
        return chat.messages[message_id]

    def user_sends(self, token: str, user_id: int, **fields: Any) -> dict[str, Any]:
        bot, chat = self._user_chat(token, user_id)
        reply_to = fields.pop("reply_to_message_id", None)
        for kind, value in list(fields.items()):
            if isinstance(value, FileRecord):
                fields[kind] = self.file_object(kind, value)
        if reply_to is not None:
            fields["reply_to_message"] = quoted(self._existing(chat, reply_to))
        message = self.new_message(chat, self.users[user_id], **fields)
        self.enqueue(bot, {"message": message})
        return message

    def user_sends_text(
        self,
        token: str,
        user_id: int,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        return self.user_sends(
            token, user_id, text=text, entities=entities, reply_to_message_id=reply_to_message_id
        )

    def user_edits(self, token: str, user_id: int, message_id: int, text: str) -> dict[str, Any]:
        bot, chat = self._user_chat(token, user_id)
        original = self._existing(chat, message_id)
        if original["from"]["id"] != user_id:
            raise ValueError(f"message {message_id} was not written by user {user_id}")
        edited = {**original, "text": text, "edit_date": unix_now()}
        chat.messages[message_id] = edited
        update: dict[str, Any] = {"edited_message": edited}
        self.enqueue(bot, update)
        return update

    def user_reacts(
        self, token: str, user_id: int, message_id: int, emoji: str | None
    ) -> dict[str, Any]:
        bot, chat = self._user_chat(token, user_id)
        self._existing(chat, message_id)
        new = [] if emoji is None else [{"type": "emoji", "emoji": emoji}]
        old = chat.user_reactions.get(message_id, [])
        chat.user_reactions[message_id] = new
        update: dict[str, Any] = {
            "message_reaction": {
                "chat": chat.chat,
                "message_id": message_id,
                "user": self.users[user_id],
                "date": unix_now(),
                "old_reaction": old,
                "new_reaction": new,
            }
        }
        self.enqueue(bot, update)
        return update

    def user_presses_button(
        self, token: str, user_id: int, message_id: int, data: str
    ) -> dict[str, Any]:
        bot, chat = self._user_chat(token, user_id)
        message = self._existing(chat, message_id)
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == data for row in rows for b in row):
            raise ValueError(f"message {message_id} has no callback button with data {data!r}")
        query_id = str(secrets.randbits(63))
        query = {
            "id": query_id,
            "from": self.users[user_id],
            "message": message,
            "chat_instance": str(hash((bot.bot_id, user_id)) & (2**63 - 1)),
            "data": data,
        }
        self.callback_queries[query_id] = {"bot_id": bot.bot_id, "answered": False}
        update: dict[str, Any] = {"callback_query": query}
        self.enqueue(bot, update)
        return update

    def block_user(self, user_id: int) -> None:
        self._set_blocked(user_id, blocked=True)

    def unblock_user(self, user_id: int) -> None:
        self._set_blocked(user_id, blocked=False)

    def _set_blocked(self, user_id: int, *, blocked: bool) -> None:
        if (user_id in self.blocked) == blocked:
            return
        (self.blocked.add if blocked else self.blocked.discard)(user_id)
        # In private chats this is the one time Telegram sends my_chat_member.
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        for (bot_id, chat_user), chat in self.chats.items():
            if chat_user != user_id:
                continue
            bot = next(b for b in self.bots.values() if b.bot_id == bot_id)
            member = {
                "chat": chat.chat,
                "from": self.users[user_id],
                "date": unix_now(),
                "old_chat_member": {"status": old, "user": bot.user},
                "new_chat_member": {"status": new, "user": bot.user}
                | ({"until_date": 0} if new == "kicked" else {}),
            }
            self.enqueue(bot, {"my_chat_member": member})
        self.notify()
