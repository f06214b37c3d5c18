"""State of the Telegram emulator: bots, users, chats, files, update queues and webhooks.

Everything the fake Telegram "remembers" lives here (the record types in ``records.py``); the
webhook sender that drains the update queues is ``webhook.py``. Customer actions are in
``customers.py``, the Bot API methods in ``methods.py`` and ``media_methods.py``, fault
injection and the HTTP surface in ``app.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from emulators.telegram.records import (
    ApiCall,
    BotState,
    ChatState,
    FileRecord,
    SentMessage,
    Webhook,
    WebhookDelivery,
    unix_now,
)
from emulators.telegram.rules import bad_request, image_size
from emulators.telegram.webhook import push_updates

THUMBNAIL_SIDE = 90
HTTP_TIMEOUT = 10.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def _random_id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(24)


def _compact(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _file_base(record: FileRecord) -> dict[str, Any]:
    return {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_size": record.file_size,
    }


class EmulatorState:
    def __init__(
        self, *, webhook_retry_base: float, download_limit: int, webhook_parallel: bool = False
    ) -> None:
        self.webhook_retry_base = webhook_retry_base
        # Off: one update at a time per bot (what the tests script against). On: like
        # Telegram, one chat's updates in order but chats in parallel up to max_connections.
        self.webhook_parallel = webhook_parallel
        self.download_limit = download_limit
        self.bots: dict[str, BotState] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.chats: dict[tuple[int, int], ChatState] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.sent: list[SentMessage] = []
        self.calls: list[ApiCall] = []
        self.chat_actions: list[dict[str, Any]] = []
        self.reactions_set: list[dict[str, Any]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        # Updates Telegram would never have created because allowed_updates excluded them.
        self.dropped_updates: list[dict[str, Any]] = []
        self.callback_queries: dict[str, dict[str, Any]] = {}
        # (bot id, update id) -> monotonic time the update first left for the bot (a
        # getUpdates answer or a webhook POST): where the bridge's part of a latency starts.
        self.handed_at: dict[tuple[int, int], float] = {}
        self.closing = False
        self._changed = asyncio.Event()
        self._http: httpx.AsyncClient | None = None
        self._file_counter = 0

    # --- change notification -----------------------------------------------------------------
    # An Event swapped on every change rather than asyncio.Condition: customer actions are
    # synchronous and cannot take the Condition's lock to notify.

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self, within: float | None, *also: asyncio.Future[Any]) -> None:
        """Sleep until the next state change, ``within`` seconds pass or any of ``also`` ends."""
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait({changed, *also}, timeout=within, return_when="FIRST_COMPLETED")
        finally:
            changed.cancel()

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the public API the tests code against
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                name = getattr(predicate, "__qualname__", repr(predicate))
                raise TimeoutError(
                    f"emulator: {name} still false after {timeout}s; {self.describe()}"
                )
            await self.wait_changed(remaining)

    def describe(self) -> str:
        calls = ", ".join(f"{c.method}->{c.status}" for c in self.calls[-8:])
        sent = ", ".join(f"{s.method}(chat {s.chat_id}, #{s.message_id})" for s in self.sent[-5:])
        queued = {b.username: len(b.updates) for b in self.bots.values()}
        return f"last calls: [{calls}]; last sent: [{sent}]; queued updates: {queued}"

    # --- world setup --------------------------------------------------------------------------

    def add_bot(self, token: str, username: str, first_name: str = "Test Bot") -> BotState:
        bot_id, sep, secret = token.partition(":")
        if not (bot_id.isdigit() and sep and secret):
            raise ValueError("a bot token looks like '<digits>:<secret>'")
        # A fresh bot's update ids start anywhere; a fixed start would hide gap assumptions.
        first_update = 100_000_000 + secrets.randbelow(800_000_000)
        bot = BotState(token, int(bot_id), username, first_name, first_update)
        self.bots[token] = bot
        return bot

    def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        user = _compact(
            id=user_id,
            is_bot=False,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self.users[user_id] = user
        return user

    def bot(self, token: str) -> BotState:
        try:
            return self.bots[token]
        except KeyError:
            raise ValueError("unknown bot token; call add_bot first") from None

    def chat(self, bot: BotState, user_id: int, *, create: bool = False) -> ChatState | None:
        key = (bot.bot_id, user_id)
        if key not in self.chats and create:
            user = self.users.get(user_id) or self.add_user(user_id, f"User{user_id}")
            chat = {"id": user_id, "type": "private"}
            for name in ("first_name", "last_name", "username"):
                if name in user:
                    chat[name] = user[name]
            self.chats[key] = ChatState(bot.bot_id, chat)
        return self.chats.get(key)

    def new_message(
        self, chat: ChatState, sender: dict[str, Any], **content: Any
    ) -> dict[str, Any]:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message = {
            "message_id": message_id,
            "from": sender,
            "chat": chat.chat,
            "date": unix_now(),
            **{k: v for k, v in content.items() if v not in (None, [], "")},
        }
        chat.messages[message_id] = message
        return message

    # --- update queue -------------------------------------------------------------------------

    def enqueue(
        self, bot: BotState, update: dict[str, Any], *, filtered: bool = True
    ) -> int | None:
        kind = next((k for k in update if k != "update_id"), None)
        if filtered and kind not in bot.allowed_updates:
            self.dropped_updates.append(update)
            self.notify()
            return None
        update_id = update.setdefault("update_id", bot.next_update_id)
        bot.next_update_id = max(bot.next_update_id, int(update_id) + 1)
        bot.updates.append(update)
        self.notify()
        return int(update_id)

    def mark_handed(self, bot: BotState, updates: list[dict[str, Any]]) -> None:
        moment = time.monotonic()
        for update in updates:
            self.handed_at.setdefault((bot.bot_id, int(update["update_id"])), moment)

    def push_update(self, token: str, update: dict[str, Any]) -> int:
        """Queue a raw update as given; it bypasses allowed_updates: the test asked for it."""
        update_id = self.enqueue(self.bot(token), dict(update), filtered=False)
        assert update_id is not None
        return update_id

    # --- files ------------------------------------------------------------------------------

    def add_file(
        self,
        token: str,
        content: bytes,
        *,
        file_path: str | None = None,
        mime_type: str = "application/octet-stream",
    ) -> FileRecord:
        bot = self.bot(token)
        return self.store_file(
            bot, content, kind=None, file_name=None, mime_type=mime_type, file_path=file_path
        )

    def store_file(
        self,
        bot: BotState,
        content: bytes,
        *,
        kind: str | None,
        file_name: str | None,
        mime_type: str,
        file_path: str | None = None,
    ) -> FileRecord:
        self._file_counter += 1
        if file_path is None:
            extension = mimetypes.guess_extension(mime_type) or ".bin"
            folder = {"photo": "photos", "voice": "voice", "video": "videos"}.get(
                kind or "", "documents"
            )
            file_path = f"{folder}/file_{self._file_counter}{extension}"
        record = FileRecord(
            file_id=_random_id("BQACAgIAAx"),
            file_unique_id="AgAD" + secrets.token_urlsafe(9),
            file_size=len(content),
            file_path=file_path,
            content=content,
            mime_type=mime_type,
            bot_id=bot.bot_id,
            kind=kind,
            file_name=file_name,
        )
        self.files[record.file_id] = record
        self.files_by_path[file_path] = record
        return record

    def file_object(
        self, kind: str, record: FileRecord, extra: dict[str, Any] | None = None
    ) -> Any:
        """The Message field (PhotoSize list, Document, Voice, ...) describing ``record``."""
        extra = extra or {}
        base = _file_base(record)
        if kind == "photo":
            width, height = image_size(record.content) or (512, 512)
            sizes = [{**base, "width": width, "height": height}]
            if max(width, height) > THUMBNAIL_SIDE:
                # Real photos come with small previews first; a bridge that takes photo[0]
                # instead of photo[-1] must get the wrong bytes here, as it would in production.
                scale = THUMBNAIL_SIDE / max(width, height)
                thumb = self.store_file(
                    self._owner(record),
                    b"thumbnail of " + record.file_unique_id.encode(),
                    kind="photo",
                    file_name=None,
                    mime_type="image/jpeg",
                )
                thumb_side = {"width": round(width * scale), "height": round(height * scale)}
                sizes.insert(
                    0, {**_file_base(thumb), **{k: max(1, v) for k, v in thumb_side.items()}}
                )
            return sizes
        duration = int(extra.get("duration") or 1)
        named = _compact(**base, file_name=record.file_name, mime_type=record.mime_type)
        if kind in ("video", "animation"):
            width, height = int(extra.get("width") or 640), int(extra.get("height") or 360)
            return {**named, "width": width, "height": height, "duration": duration}
        if kind == "video_note":
            return {**base, "length": int(extra.get("length") or 240), "duration": duration}
        if kind == "voice":
            return {**base, "duration": duration, "mime_type": record.mime_type}
        if kind == "audio":
            return {**named, "duration": duration}
        if kind == "sticker":
            width, height = image_size(record.content) or (512, 512)
            sticker_type = {"type": "regular", "is_animated": False, "is_video": False}
            return {**base, **sticker_type, "width": width, "height": height}
        return named

    def _owner(self, record: FileRecord) -> BotState:
        return next(b for b in self.bots.values() if b.bot_id == record.bot_id)

    async def fetch_url(self, url: str, limit: int) -> tuple[bytes, str]:
        """Download what Telegram would fetch for a URL given instead of a file."""
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or parsed.host not in LOOPBACK_HOSTS:
            # Loopback only, so that a test can never make the emulator reach the internet.
            raise bad_request("wrong HTTP URL specified")
        try:
            response = await self.http.get(url, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise bad_request("failed to get HTTP URL content") from exc
        if response.status_code != 200 or len(response.content) > limit:
            raise bad_request("failed to get HTTP URL content")
        mime = response.headers.get("content-type", "").split(";")[0].strip()
        return response.content, mime or "application/octet-stream"

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            # trust_env off: a proxy from the environment must not sit between loopback peers.
            # Keep-alive for every connection a parallel webhook sender may hold open, so a
            # benchmark does not measure reconnects.
            self._http = httpx.AsyncClient(
                timeout=HTTP_TIMEOUT,
                trust_env=False,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
            )
        return self._http

    # --- webhooks ---------------------------------------------------------------------------

    def set_webhook(self, bot: BotState, webhook: Webhook | None) -> None:
        if bot.webhook is not None and bot.webhook.task is not None:
            bot.webhook.task.cancel()
        bot.webhook = webhook
        if webhook is not None:
            webhook.task = asyncio.get_running_loop().create_task(push_updates(self, bot, webhook))
        self.notify()

    async def close_state(self) -> None:
        self.closing = True
        tasks = [b.webhook.task for b in self.bots.values() if b.webhook and b.webhook.task]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self.notify()
