"""One aiogram ``Bot`` per connection, all sharing one HTTP session to the Bot API server."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bridge.ids import ConnectionId


class BotPool:
    def __init__(self, api_url: str, timeout: float) -> None:
        self._api = TelegramAPIServer.from_base(api_url.rstrip("/"))
        self._timeout = timeout
        self._session: AiohttpSession | None = None
        self._bots: dict[ConnectionId, Bot] = {}

    @property
    def session(self) -> AiohttpSession:
        if self._session is None:
            # Bounded in-flight requests per process: Telegram answers 429 to a flood.
            self._session = AiohttpSession(api=self._api, timeout=self._timeout, limit=64)
        return self._session

    def make(self, token: str) -> Bot:
        return Bot(token, session=self.session)

    def add(self, connection_id: ConnectionId, token: str) -> Bot:
        bot = self._bots.get(connection_id)
        if bot is None or bot.token != token:
            bot = self.make(token)
            self._bots[connection_id] = bot
        return bot

    def get(self, connection_id: ConnectionId) -> Bot:
        try:
            return self._bots[connection_id]
        except KeyError:
            raise LookupError(f"connection {connection_id} has no bot running") from None

    def remove(self, connection_id: ConnectionId) -> None:
        self._bots.pop(connection_id, None)

    def file_url(self, bot: Bot, file_path: str) -> str:
        return self._api.file_url(bot.token, file_path)

    async def close(self) -> None:
        self._bots.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
