"""A strict, stateful emulator of the amoCRM Chats API ("amojo") for tests, sandbox, benchmarks.

It answers the bridge the way amoCRM does (paths, signing, strict typing, error envelopes),
records everything it accepted or refused, fires signed v2 hooks as an operator would
(``amojo_operator.py``) and injects faults: errors, outages, hung requests. Field rules live in
``amojo_rules.py``, per-endpoint behaviour and records in ``amojo_state.py``.

Standalone: ``python -m emulators.amojo.app --port N --channel-id I --channel-secret S``;
a driver in another process uses the ``/__emulator__/`` routes (here and in ``amojo_control.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bridge.amojo import signing
from emulators.amojo.control import add_control_routes
from emulators.amojo.operator import HOOK_TIMEOUT, AmojoOperator, OperatorMessage
from emulators.amojo.records import RejectedRequest
from emulators.amojo.rules import ApiError, Reply, envelope

__all__ = ["AmojoEmulator", "OperatorMessage"]

DEFAULT_BOT_ID = "0b7e5d4c-3a21-4f6e-9c8b-7a6d5e4f3b2a"
DATE_TOLERANCE = timedelta(minutes=15)
KINDS = frozenset(
    {"connect", "disconnect", "create_chat", "new_message", "edit_message", "delivery_status"}
    | {"typing", "react", "history"}
)
BASE = "/v2/origin/custom"
GATEWAY_PAGE = (
    "<html><head><title>{code} {reason}</title></head><body>"
    "<center><h1>{code} {reason}</h1></center><hr><center>nginx</center></body></html>"
)


@dataclass
class _Fault:
    action: Literal["fail", "hang"]
    remaining: int
    status: int
    kinds: frozenset[str] | None
    process: bool = False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "ORIGIN_INVALID_JSON", f"body is not valid JSON: {exc}") from None


def _event_kind(body: bytes) -> str:
    # faults may target new_message or edit_message, which share one path
    with contextlib.suppress(ValueError, UnicodeDecodeError, AttributeError):
        return str(json.loads(body).get("event_type", "new_message"))
    return "new_message"


def _raw_path(request: Request) -> str:
    # the signature covers the path exactly as sent, without the query string
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else request.url.path


async def _until_disconnected(request: Request) -> None:
    # once the body is read, the next ASGI message is the client going away
    while (await request.receive())["type"] != "http.disconnect":
        pass


class AmojoEmulator(AmojoOperator):
    def __init__(
        self,
        *,
        channel_id: str,
        channel_secret: str,
        hook_url_template: str | None = None,
        bot_id: str = DEFAULT_BOT_ID,
        allowed_accounts: set[str] | None = None,
        duplicate_msgid: Literal["error", "idempotent"] = "error",
        now: Callable[[], datetime] | None = None,
        hook_timeout: float = HOOK_TIMEOUT,
    ) -> None:
        """``now`` is the clock the Date check and hook timestamps use (tests freeze it)."""
        super().__init__(
            channel_id,
            channel_secret=channel_secret,
            hook_url_template=hook_url_template,
            bot_id=bot_id,
            allowed_accounts=allowed_accounts,
            duplicate_msgid=duplicate_msgid,
            now=now or (lambda: datetime.now(UTC)),
            hook_timeout=hook_timeout,
        )
        self._faults: list[_Fault] = []
        self._outage: tuple[float, int] | None = None
        self._release = asyncio.Event()
        self.hanging = 0  # requests held right now by hang_next
        self.faults_served: list[str] = []  # request kinds answered by an injected fault
        self.app = self._build_app()

    # -- faults --------------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503, *, kinds: set[str] | None = None) -> None:
        self._faults.append(_Fault("fail", count, status, self._kinds(kinds)))

    def fail_until(self, deadline_monotonic: float, status: int = 503) -> None:
        self._outage = (deadline_monotonic, status)

    def hang_next(
        self, count: int, *, kinds: set[str] | None = None, process: bool = False
    ) -> None:
        """``process=True`` applies the request before withholding the answer (lost reply)."""
        self._faults.append(_Fault("hang", count, 0, self._kinds(kinds), process))

    def release_hung(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    @staticmethod
    def _kinds(kinds: set[str] | None) -> frozenset[str] | None:
        if kinds is not None and not kinds <= KINDS:
            raise ValueError(
                f"unknown request kinds {sorted(kinds - KINDS)}; known: {sorted(KINDS)}"
            )
        return None if kinds is None else frozenset(kinds)

    def _take_fault(self, kind: str) -> _Fault | None:
        fault = self._next_fault(kind)
        if fault is not None:
            self.faults_served.append(kind)
            self._touch()
        return fault

    def _next_fault(self, kind: str) -> _Fault | None:
        if self._outage is not None:
            deadline, status = self._outage
            if time.monotonic() < deadline:
                return _Fault("fail", 1, status, None)
            self._outage = None
        for fault in self._faults:
            if fault.kinds is None or kind in fault.kinds:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _hang(self, request: Request) -> None:
        # held until release_hung()/aclose(), or until the client gives up and disconnects
        released = asyncio.ensure_future(self._release.wait())
        gone = asyncio.ensure_future(_until_disconnected(request))
        self.hanging += 1
        self._touch()
        try:
            await asyncio.wait({released, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            released.cancel()
            gone.cancel()
            self.hanging -= 1
            self._touch()

    def _fault_response(self, request: Request, status: int) -> Response:
        if status < 500:
            return self._reject(request, ApiError(status, "EMULATED_FAULT", f"HTTP {status}"))
        if status in (502, 503, 504):  # a gateway in front of amojo answers with its own page
            reason = HTTPStatus(status).phrase
            return HTMLResponse(GATEWAY_PAGE.format(code=status, reason=reason), status)
        return JSONResponse(envelope(status, "INTERNAL_ERROR", "internal server error"), status)

    # -- request pipeline ----------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="amojo emulator", openapi_url=None, docs_url=None, redoc_url=None)
        handle = self._handle

        @app.post(BASE + "/{channel_id}/connect")
        async def connect(request: Request, channel_id: str) -> Response:
            return await handle(request, "connect", channel_id, self._on_connect, channel=True)

        @app.delete(BASE + "/{channel_id}/disconnect")
        async def disconnect(request: Request, channel_id: str) -> Response:
            return await handle(
                request, "disconnect", channel_id, self._on_disconnect, channel=True
            )

        @app.post(BASE + "/{scope_id}/chats")
        async def create_chat(request: Request, scope_id: str) -> Response:
            return await handle(
                request, "create_chat", scope_id, lambda d: self._on_create_chat(scope_id, d)
            )

        @app.post(BASE + "/{scope_id}/typing")
        async def typing(request: Request, scope_id: str) -> Response:
            return await handle(
                request, "typing", scope_id, lambda d: self._on_typing(scope_id, d)
            )

        @app.post(BASE + "/{scope_id}/react")
        async def react(request: Request, scope_id: str) -> Response:
            return await handle(request, "react", scope_id, lambda d: self._on_react(scope_id, d))

        @app.post(BASE + "/{scope_id}/{msgid}/delivery_status")
        async def delivery_status(request: Request, scope_id: str, msgid: str) -> Response:
            return await handle(
                request,
                "delivery_status",
                scope_id,
                lambda d: self._on_delivery_status(scope_id, msgid, d),
            )

        @app.get(BASE + "/{scope_id}/chats/{chat_id}/history")
        async def history(request: Request, scope_id: str, chat_id: str) -> Response:
            def on_history(_: Any) -> Reply:
                return self._on_history(scope_id, chat_id, request.query_params)

            return await handle(request, "history", scope_id, on_history, json_body=False)

        @app.post(BASE + "/{scope_id}")
        async def message(request: Request, scope_id: str) -> Response:
            return await handle(request, None, scope_id, lambda d: self._on_message(scope_id, d))

        @app.get("/__emulator__/summary")
        async def summary() -> dict[str, int]:
            return self.summary()

        @app.post("/__emulator__/operator_message")
        async def operator_message(request: Request) -> Response:
            # lets a benchmark drive the operator side of a standalone emulator
            try:
                sent = await self.send_operator_message(**(await request.json()))
            except (TypeError, ValueError, LookupError, RuntimeError) as exc:
                return JSONResponse({"error": str(exc)}, 400)
            return JSONResponse({"id": sent.id, "status": sent.status})

        add_control_routes(app, self)

        async def unknown_route(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
            # amojo answers a wrong URL with an empty 4xx body
            self._record_rejection(request, status, "", "no such route", f"{exc}")
            return Response(status_code=status)

        app.add_exception_handler(StarletteHTTPException, unknown_route)
        return app

    async def _handle(
        self,
        request: Request,
        kind: str | None,
        path_id: str,
        handler: Callable[[Any], Reply],
        *,
        channel: bool = False,
        json_body: bool = True,
    ) -> Response:
        body = await request.body()
        fault = self._take_fault(kind or _event_kind(body))
        if fault is not None and fault.action == "fail":
            return self._fault_response(request, fault.status)
        if fault is not None and not fault.process:
            await self._hang(request)
            return self._fault_response(request, 503)
        response = self._serve(
            request, body, path_id, handler, channel=channel, json_body=json_body
        )
        if fault is not None:
            await self._hang(request)
        return response

    def _serve(
        self,
        request: Request,
        body: bytes,
        path_id: str,
        handler: Callable[[Any], Reply],
        *,
        channel: bool,
        json_body: bool,
    ) -> Response:
        try:
            # the channel decides which secret applies, so it is resolved before the signature
            known = path_id == self.channel_id or (
                not channel and path_id.startswith(self.channel_id + "_")
            )
            if not known:
                raise ApiError(404, "ORIGIN_CHANNEL_NOT_FOUND", "channel not found")
            self._authenticate(request, body)
            if not channel:
                self._require_scope(path_id)
            status, content = handler(_parse_json(body) if json_body else None)
        except ApiError as error:
            return self._reject(request, error)
        self._touch()
        if content is None:
            return Response(status_code=status)
        return JSONResponse(content, status)

    def _authenticate(self, request: Request, body: bytes) -> None:
        headers = request.headers
        problem = None
        if headers.get("content-type") != signing.CONTENT_TYPE:
            problem = f"Content-Type must be exactly {signing.CONTENT_TYPE!r}"
        elif headers.get("content-md5") != signing.content_md5(body):
            problem = "Content-MD5 is not the lower-case hex MD5 of the body bytes"
        else:
            problem = self._date_problem(headers.get("date", ""))
        if problem is None and not signing.verify_request_signature(
            self.channel_secret, request.method, _raw_path(request), dict(headers), body
        ):
            problem = "X-Signature does not match METHOD, MD5, type, date and path"
        if problem is not None:
            raise ApiError(403, "ORIGIN_INVALID_SIGNATURE", "invalid signature", problem)

    def _date_problem(self, value: str) -> str | None:
        try:
            date = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return f"Date {value!r} is not an RFC 2822 date"
        if date.tzinfo is None:  # what "-0000" parses to
            return f"Date {value!r} has no zone offset"
        if abs(self._now() - date) > DATE_TOLERANCE:
            return f"Date {value!r} is more than 15 minutes away from {self._now():%c}"
        return None

    def _reject(self, request: Request, error: ApiError) -> Response:
        self._record_rejection(
            request, error.status, error.error_type, error.description, error.detail
        )
        return JSONResponse(
            envelope(error.status, error.error_type, error.description), error.status
        )

    def _record_rejection(
        self, request: Request, status: int, error_type: str, description: str, detail: str
    ) -> None:
        self.rejected.append(
            RejectedRequest(
                request.method, request.url.path, status, error_type, description, detail
            )
        )
        self._touch()

    async def aclose(self) -> None:
        """Close the hook client and let hung requests finish (uvicorn waits for them)."""
        self.release_hung()
        await super().aclose()
