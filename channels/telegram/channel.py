"""TelegramChannel: the adapter the core sees (implements bridge.channel.Channel)."""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import ClassVar, TypeVar

from aiogram import methods as bot_api
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter, TelegramUnauthorizedError
from aiogram.methods import SendChatAction, SetMessageReaction, TelegramMethod
from aiogram.types import Message, ReactionTypeEmoji, Update

from bridge.channel import (
    ASGIApp,
    ChannelAccount,
    ChannelCapabilities,
    ChannelConnection,
    InboundSink,
    MediaStream,
    ReceiverHealth,
)
from bridge.errors import PermanentDeliveryError
from bridge.ids import ConnectionId, ExternalChatId, ExternalMessageId, MediaRef
from bridge.messages import DeliveryReceipt, OutboundMessage, OutboundReaction
from bridge.ratelimit import KeyedBuckets
from channels.telegram.bots import BotPool
from channels.telegram.errors import describe, map_error, scrub
from channels.telegram.handlers import handle_raw_update, handle_update
from channels.telegram.ids import (
    bot_id_from_token,
    make_message_id,
    parse_chat_id,
    parse_message_id,
)
from channels.telegram.lazy_types import build_hot_validators
from channels.telegram.message_to_calls import Part, to_parts
from channels.telegram.reactions import normalize_reaction
from channels.telegram.receiver import PollingReceiver, WebhookReceiver
from channels.telegram.uploads import MediaFetcher, url_refused
from channels.telegram.webhook import WebhookTarget, create_webhook_app

log = logging.getLogger(__name__)
T = TypeVar("T")

# Every Bot API method the adapter calls: their answer models are built at start.
METHODS_CALLED = tuple(
    getattr(bot_api, name)
    for name in (
        "AnswerCallbackQuery",
        "DeleteWebhook",
        "GetFile",
        "GetMe",
        "GetUpdates",
        "SendAudio",
        "SendChatAction",
        "SendDocument",
        "SendMediaGroup",
        "SendMessage",
        "SendPhoto",
        "SendSticker",
        "SendVideo",
        "SendVoice",
        "SetMessageReaction",
        "SetWebhook",
    )
)


class TelegramChannel:
    name: ClassVar[str] = "telegram"
    capabilities = ChannelCapabilities(typing=True, reactions=True, edits=True, buttons=True)

    def __init__(
        self,
        api_url: str,
        *,
        timeout: float = 30.0,
        poll_timeout: int = 25,
        chat_rate: float = 1.0,
        chat_burst: int = 3,
        bot_rate: float = 30.0,
        allow_private_media_urls: bool = False,
    ) -> None:
        self._bots = BotPool(api_url, timeout)
        self._media = MediaFetcher(allow_private=allow_private_media_urls)
        # Telegram allows about 1 message/s per chat (short bursts pass) and about 30/s per
        # bot; waiting here is cheaper than a 429 that blocks the chat for retry_after.
        self._chat_limits = KeyedBuckets(chat_rate, chat_burst)
        self._bot_limits = KeyedBuckets(bot_rate, max(1.0, bot_rate))
        self._poll_timeout = poll_timeout
        self._sink: InboundSink | None = None
        self._connections: dict[ConnectionId, ChannelConnection] = {}
        self._receivers: dict[ConnectionId, PollingReceiver | WebhookReceiver] = {}
        self._webhooks: dict[str, WebhookTarget] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, sink: InboundSink) -> None:
        self._sink = sink
        build_hot_validators(METHODS_CALLED)
        for conn in list(self._connections.values()):
            await self._start_receiving(conn)

    async def stop(self) -> None:
        for receiver in list(self._receivers.values()):
            await receiver.stop()
        self._receivers.clear()
        self._sink = None
        await self._media.close()
        await self._bots.close()

    async def probe(self, token: str) -> ChannelAccount:
        bot = self._bots.make(token)
        try:
            me = await bot.get_me()
        except Exception as error:
            raise map_error(error) from None
        return ChannelAccount(str(me.id), me.username or "", me.full_name)

    async def add_connection(self, conn: ChannelConnection) -> ChannelAccount:
        bot = self._bots.add(conn.connection_id, conn.token)
        account = ChannelAccount(str(bot.id), "", "")
        rejected: BaseException | None = None
        try:
            me = await bot.get_me()
            account = ChannelAccount(str(me.id), me.username or "", me.full_name)
        except TelegramUnauthorizedError as error:
            rejected = error
        except Exception as error:  # noqa: BLE001 - the receiver keeps trying in the background
            log.warning(
                "Telegram not reachable at start (%s); receiving will start when it is",
                describe(error),
                extra={"connection_id": conn.connection_id},
            )
        self._connections[conn.connection_id] = conn
        if self._sink is not None:
            # started even for a rejected token: its receiver then shows the state (failed)
            # to readiness and status, and recovers if the token is accepted again
            await self._start_receiving(conn)
        if rejected is not None:
            raise map_error(rejected) from None
        return account

    async def remove_connection(self, connection_id: ConnectionId) -> None:
        receiver = self._receivers.pop(connection_id, None)
        if receiver is not None:
            await receiver.stop()
        conn = self._connections.pop(connection_id, None)
        if conn is not None:
            self._webhooks.pop(bot_id_from_token(conn.token), None)
        self._bots.remove(connection_id)

    async def _start_receiving(self, conn: ChannelConnection) -> None:
        """Receivers run in the background and heal themselves: this never waits for
        Telegram, so an unreachable Telegram delays no start-up."""
        bot = self._bots.get(conn.connection_id)
        old = self._receivers.pop(conn.connection_id, None)
        if old is not None:
            await old.stop()
        receiver: PollingReceiver | WebhookReceiver
        if conn.public_url:
            target = WebhookTarget(conn.connection_id, bot, conn.webhook_secret)
            self._webhooks[bot_id_from_token(conn.token)] = target
            url = f"{conn.public_url.rstrip('/')}/telegram/webhook/{bot.id}"
            receiver = WebhookReceiver(bot, conn.connection_id, url, conn.webhook_secret)
        else:
            receiver = PollingReceiver(
                bot,
                conn.connection_id,
                self._update_handler(conn.connection_id),
                self._raw_handler(conn.connection_id),
                poll_timeout=self._poll_timeout,
            )
        self._receivers[conn.connection_id] = receiver
        receiver.start()

    def receivers(self) -> list[ReceiverHealth]:
        return [receiver.status.health() for receiver in self._receivers.values()]

    def _update_handler(self, connection_id: ConnectionId) -> Callable[[Update], Awaitable[None]]:
        async def handle(update: Update) -> None:
            assert self._sink is not None
            await handle_update(self._sink, connection_id, self._bots.get(connection_id), update)

        return handle

    def _raw_handler(
        self, connection_id: ConnectionId
    ) -> Callable[[dict[str, object]], Awaitable[None]]:
        async def handle(raw: dict[str, object]) -> None:
            assert self._sink is not None
            bot = self._bots.get(connection_id)
            await handle_raw_update(self._sink, connection_id, bot, raw)

        return handle

    # -- webhook mode ------------------------------------------------------------------------
    def asgi_app(self) -> ASGIApp | None:
        async def handle(target: WebhookTarget, update: Update) -> None:
            if self._sink is None:
                raise RuntimeError("channel is not started")
            await handle_update(self._sink, target.connection_id, target.bot, update)
            receiver = self._receivers.get(target.connection_id)
            if receiver is not None:
                receiver.status.ok()

        async def reject(target: WebhookTarget, raw: bytes, reason: str) -> None:
            if self._sink is None:
                raise RuntimeError("channel is not started")
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and isinstance(parsed.get("update_id"), int):
                await handle_raw_update(self._sink, target.connection_id, target.bot, parsed)
            else:
                await self._sink.reject(target.connection_id, raw, reason)

        return create_webhook_app(self._webhooks.get, handle, reject)

    # -- outbound ----------------------------------------------------------------------------
    async def send(
        self, connection_id: ConnectionId, chat: ExternalChatId, message: OutboundMessage
    ) -> DeliveryReceipt:
        chat_id = parse_chat_id(chat)
        sent: list[ExternalMessageId] = []
        carriers: dict[int, ExternalMessageId] = {}
        for part in to_parts(chat_id, message):
            try:
                results = await self._send_part(connection_id, chat_id, part)
            except Exception as error:
                if sent:
                    # Part of the message is out; say exactly what is missing.
                    raise PermanentDeliveryError(
                        f"Only {len(sent)} part(s) of the message reached Telegram: "
                        f"{map_error(error)}"
                    ) from None
                raise map_error(error) from None
            ids = [make_message_id(chat_id, result.message_id) for result in results]
            sent.extend(ids)
            carriers.update(zip(part.indexes, ids, strict=False))
        return DeliveryReceipt(
            tuple(sent), tuple(carriers.get(n) for n in range(len(message.attachments)))
        )

    async def _send_part(
        self, connection_id: ConnectionId, chat_id: int, part: Part
    ) -> list[Message]:
        try:
            result = await self._call(connection_id, chat_id, part.method())
        except TelegramBadRequest as error:
            if not part.attachments or not url_refused(error):
                raise
            log.info(
                "Telegram would not fetch the media URL (%s); uploading the file instead",
                scrub(error.message),
                extra={"connection_id": connection_id},
            )
            async with AsyncExitStack() as stack:
                files = {
                    a.url: await stack.enter_async_context(self._media.fetch(a))
                    for a in part.attachments
                }
                result = await self._call(connection_id, chat_id, part.method(files))
        if isinstance(result, Message):
            return [result]
        return [item for item in result if isinstance(item, Message)]

    async def _call(
        self, connection_id: ConnectionId, chat_id: int, method: TelegramMethod[T]
    ) -> T:
        """Every Bot API call that writes to a chat goes through here (rate limits live here)."""
        bot = self._bots.get(connection_id)
        chat_bucket = self._chat_limits.bucket(f"{connection_id}:{chat_id}")
        await chat_bucket.acquire()
        await self._bot_limits.acquire(connection_id)
        try:
            return await bot(method)
        except TelegramRetryAfter as error:
            chat_bucket.penalize(float(error.retry_after))
            raise

    async def send_typing(self, connection_id: ConnectionId, chat: ExternalChatId) -> None:
        chat_id = parse_chat_id(chat)
        try:
            await self._call(
                connection_id, chat_id, SendChatAction(chat_id=chat_id, action="typing")
            )
        except Exception as error:
            raise map_error(error) from None

    async def send_reaction(
        self, connection_id: ConnectionId, chat: ExternalChatId, reaction: OutboundReaction
    ) -> None:
        emoji = normalize_reaction(reaction.emoji) if reaction.emoji else None
        if reaction.emoji and emoji is None:
            log.info(
                "reaction %r is not one Telegram allows; skipped",
                reaction.emoji,
                extra={"connection_id": connection_id},
            )
            return
        try:
            _, message_id = parse_message_id(reaction.message)
        except ValueError:
            log.info(
                "reaction on a button press, which is no Telegram message; skipped",
                extra={"connection_id": connection_id},
            )
            return
        chat_id = parse_chat_id(chat)
        method = SetMessageReaction(
            chat_id=chat_id,
            message_id=message_id,
            reaction=[ReactionTypeEmoji(emoji=emoji)] if emoji else [],
        )
        try:
            await self._call(connection_id, chat_id, method)
        except Exception as error:
            raise map_error(error) from None

    async def open_media(self, connection_id: ConnectionId, ref: MediaRef) -> MediaStream:
        bot = self._bots.get(connection_id)
        try:
            file = await bot.get_file(ref)
        except Exception as error:
            raise map_error(error) from None
        if not file.file_path:
            raise PermanentDeliveryError("Telegram gave no path for this file")
        url = self._bots.file_url(bot, file.file_path)
        session = self._bots.session

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in session.stream_content(url, timeout=60):
                    yield chunk
            except Exception as error:
                # aiohttp's message would carry the URL, and the URL carries the token.
                raise PermanentDeliveryError(
                    f"Downloading the file from Telegram failed ({type(error).__name__})"
                ) from None

        name = file.file_path.rsplit("/", 1)[-1]
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return MediaStream(content_type, name, file.file_size, chunks())
