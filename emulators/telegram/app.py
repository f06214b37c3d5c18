"""A strict, stateful stand-in for the Telegram Bot API, served as a FastAPI app.

The real aiogram client talks to it over real HTTP (``TelegramAPIServer.from_base(url)``), so
the bridge's Telegram adapter is exercised down to the wire format: form, multipart and JSON
bodies, Telegram's error envelopes and texts, getUpdates offsets and long polling, webhook
delivery with retries, and file upload/download. Tests script customers (``user_sends_text``),
inject faults (``fail_next``, ``hang_next``) and inspect what the bots did (``sent``, ``calls``).

Layout: request decoding and validation rules in ``rules``, text markup in ``markup``, the
record types in ``records``, stored state in ``state``, webhook delivery (one at a time, or
Telegram's parallel way) in ``webhook``, customer actions in ``customers``, Bot API methods in
``methods`` and ``media_methods`` (sharing ``call``), the ``/__emulator__/`` routes through
which a driver in another process (the benchmark) scripts customers and reads what happened in
``control``, and the process entry point in ``__main__``; this module adds fault injection and
the HTTP surface. Call ``aclose()`` before the server stops: uvicorn waits for in-flight
requests, and a request held by ``hang_next`` never finishes on its own.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from emulators.telegram.call import Call
from emulators.telegram.control import add_control_routes
from emulators.telegram.customers import CustomerActions
from emulators.telegram.methods import CANONICAL, METHODS
from emulators.telegram.records import ApiCall, BotState, SentMessage
from emulators.telegram.rules import ApiError, Upload, parse_body


@dataclass
class _Fault:
    method: str | None  # lower-cased; None matches every method
    remaining: int
    kind: str  # "error", "server", "hang" (before taking effect) or "late" (after)
    bot_id: int | None
    status: int = 0
    description: str = ""
    parameters: dict[str, Any] | None = None


def _html_error(status: int) -> HTMLResponse:
    # The shape nginx in front of Telegram gives when the backend is down: not JSON at all.
    title = f"{status} {HTTPStatus(status).phrase}"
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return HTMLResponse(page, status_code=status)


def _envelope(error: ApiError) -> JSONResponse:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": error.status,
        "description": error.description,
    }
    if error.parameters:
        body["parameters"] = error.parameters
    return JSONResponse(body, status_code=error.status)


def _bot_id_of(token: str) -> int | None:
    head = token.partition(":")[0]
    return int(head) if head.isdigit() else None


async def _client_gone(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


class TelegramEmulator(CustomerActions):
    def __init__(
        self,
        *,
        webhook_retry_base: float = 0.05,
        download_limit: int = 20 * 1024 * 1024,
        webhook_parallel: bool = False,
    ) -> None:
        super().__init__(
            webhook_retry_base=webhook_retry_base,
            download_limit=download_limit,
            webhook_parallel=webhook_parallel,
        )
        self._faults: list[_Fault] = []
        self._release = asyncio.Event()
        self.hanging = 0  # requests currently held by hang_next
        self.app = FastAPI(title="Telegram Bot API emulator", openapi_url=None)
        self.app.add_api_route("/bot{token}/{method}", self._api, methods=["GET", "POST"])
        self.app.add_api_route("/file/bot{token}/{file_path:path}", self._download)
        add_control_routes(self.app, self)

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [s for s in self.sent if s.chat_id == chat_id]

    # --- faults -------------------------------------------------------------------------------

    def _add_fault(self, method: str | None, token: str | None, fault: _Fault) -> None:
        fault.method = method.lower() if method else None
        fault.bot_id = None if token is None else self.bot(token).bot_id
        self._faults.append(fault)

    def fail_next(
        self,
        method: str | None,
        count: int = 1,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        token: str | None = None,
    ) -> None:
        parameters = {
            k: v
            for k, v in (("retry_after", retry_after), ("migrate_to_chat_id", migrate_to_chat_id))
            if v is not None
        }
        fault = _Fault(None, count, "error", None, error_code, description, parameters or None)
        self._add_fault(method, token, fault)

    def fail_server_next(
        self, method: str | None, count: int = 1, status: int = 502, *, token: str | None = None
    ) -> None:
        self._add_fault(method, token, _Fault(None, count, "server", None, status))

    def hang_next(self, method: str | None, count: int = 1, *, token: str | None = None) -> None:
        self._add_fault(method, token, _Fault(None, count, "hang", None))

    def answer_late_next(
        self, method: str | None, count: int = 1, *, token: str | None = None
    ) -> None:
        """The next calls take effect at once but are answered only at ``release_hung()``:
        a client that gives up first never learns that its request went through."""
        self._add_fault(method, token, _Fault(None, count, "late", None))

    def release_hung(self) -> None:
        """Let held requests go on; they then take effect, like a request that was only slow."""
        self._release.set()
        self._release = asyncio.Event()

    def _take_fault(self, method: str, bot: BotState) -> _Fault | None:
        for fault in self._faults:
            if fault.method in (None, method.lower()) and fault.bot_id in (None, bot.bot_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def aclose(self) -> None:
        """Stop webhook senders and answer held requests. Call it before the server stops:
        uvicorn waits for in-flight requests, and a held one would never finish."""
        await self.close_state()
        self.release_hung()

    # --- HTTP surface ---------------------------------------------------------------------------

    async def _api(self, request: Request, token: str, method: str) -> Response:
        bot = self.bots.get(token)
        bot_id = bot.bot_id if bot else _bot_id_of(token)
        name = CANONICAL.get(method.lower(), method)
        params: dict[str, Any] = {}
        try:
            if bot is None:
                raise ApiError(401, "Unauthorized")
            data = parse_body(
                request.headers.get("content-type", ""),
                await request.body(),
                list(request.query_params.multi_items()),
            )
            params = data.params
            fault = self._take_fault(name, bot)
            if fault is not None and fault.kind == "hang":
                fault = await self._hold(request)
            if fault is not None and fault.kind == "server":
                self._record(bot_id, name, params, fault.status, "HTML error page")
                return _html_error(fault.status)
            if fault is not None and fault.kind == "error":
                raise ApiError(fault.status, fault.description, fault.parameters)
            self._check_flood(bot, name, params)
            result = await self._dispatch(request, bot, name, params, data.uploads)
            if fault is not None and fault.kind == "late":
                await self._hold(request)
        except ApiError as error:
            self._record(bot_id, name, params, error.status, error.description)
            return _envelope(error)
        self._record(bot_id, name, params, 200, None)
        return JSONResponse({"ok": True, "result": result})

    async def _hold(self, request: Request) -> _Fault | None:
        """Wait for release_hung(); a request still held at aclose() ends as a bare 502.

        A client that gives up first (its timeout) leaves a request that never takes
        effect: the case where a timed-out send did not reach Telegram's backend.
        """
        self.hanging += 1
        self.notify()
        released = asyncio.ensure_future(self._release.wait())
        gone = asyncio.ensure_future(_client_gone(request))
        try:
            await asyncio.wait({released, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            released.cancel()
            gone.cancel()
            self.hanging -= 1
            self.notify()
        if self.closing or not released.done() or released.cancelled():
            return _Fault(None, 0, "server", None, 502)
        return None

    def enforce_chat_limit(self, rate: float, burst: int) -> None:
        """Answer 429 like Telegram when a bot sends to one chat faster than ``rate`` per
        second after a burst of ``burst`` (off unless a test turns it on)."""
        self._flood_limit = (rate, burst)
        self._flood: dict[tuple[int, str], tuple[float, float]] = {}

    def _check_flood(self, bot: BotState, name: str, params: dict[str, Any]) -> None:
        limit = getattr(self, "_flood_limit", None)
        if limit is None or not name.startswith("send") or name == "sendChatAction":
            return
        rate, burst = limit
        key = (bot.bot_id, str(params.get("chat_id")))
        now = time.monotonic()
        tokens, stamp = self._flood.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - stamp) * rate)
        if tokens < 1:
            retry_after = int((1 - tokens) / rate) + 1
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        self._flood[key] = (tokens - 1, now)

    def clear_faults(self) -> None:
        """Forget every fault still armed (the outage is over)."""
        self._faults.clear()

    async def _dispatch(
        self,
        request: Request,
        bot: BotState,
        name: str,
        params: dict[str, Any],
        uploads: dict[str, Upload],
    ) -> Any:
        handler = METHODS.get(name)
        if handler is None:
            raise ApiError(404, "Not Found")
        wait = bot.closed_until - time.monotonic()
        if wait > 0:
            raise ApiError(
                429,
                f"Too Many Requests: retry after {int(wait) + 1}",
                {"retry_after": int(wait) + 1},
            )
        call = Call(self, bot, name, params, uploads, token=bot.token)
        if name != "getUpdates":
            return await handler(call)
        # Only a long poll waits long enough for its client to give up; watch for that so an
        # abandoned poll ends instead of keeping uvicorn from shutting down.
        call.disconnected = asyncio.ensure_future(request.receive())
        try:
            return await handler(call)
        finally:
            call.disconnected.cancel()

    def _record(
        self,
        bot_id: int | None,
        method: str,
        params: dict[str, Any],
        status: int,
        description: str | None,
    ) -> None:
        self.calls.append(ApiCall(bot_id, method, params, status, time.monotonic(), description))
        self.notify()

    async def _download(self, token: str, file_path: str) -> Response:
        bot = self.bots.get(token)
        if bot is None:
            return _envelope(ApiError(401, "Unauthorized"))
        record = self.files_by_path.get(file_path)
        if record is None or record.bot_id != bot.bot_id:
            return _envelope(ApiError(404, "Not Found"))
        return Response(record.content, media_type=record.mime_type)
