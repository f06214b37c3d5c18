"""Async client of the amoCRM Chats API: signs, sends, maps answers to errors; never retries."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import httpx

from bridge.amojo.models import (
    ConnectRequest,
    CreateChat,
    DeliveryStatusUpdate,
    DisconnectRequest,
    EditedMessage,
    NewMessage,
    Participant,
    ReactionRequest,
    TypingRequest,
)
from bridge.amojo.signing import AmojoAuth
from bridge.errors import (
    PermanentDeliveryError,
    RateLimitedError,
    TransientDeliveryError,
)
from bridge.ratelimit import TokenBucket

PREFIX = "/v2/origin/custom"
# The longest wait a peer may ask for: a larger value is read as this (a job must not sleep
# for days because of one header).
MAX_RETRY_AFTER = 3600.0


class AmojoAPIError(Exception):
    """Mixin carried by every error the Chats API answered: keeps the status and the body."""

    status_code: int
    body: str
    error_type: str | None
    description: str | None

    def _init_api(self, status_code: int, body: str) -> None:
        self.status_code = status_code
        self.body = body
        self.error_type = None
        self.description = None
        try:
            parsed = json.loads(body)
        except ValueError:
            return
        if isinstance(parsed, dict):
            self.error_type = _str_or_none(parsed.get("error_type"))
            self.description = _str_or_none(parsed.get("error_description"))


class AmojoTransientError(TransientDeliveryError, AmojoAPIError):
    """The Chats API is unavailable for now (5xx)."""

    def __init__(self, status_code: int, body: str, retry_after: float | None = None) -> None:
        super().__init__(f"Chats API answered {status_code}", retry_after=retry_after)
        self._init_api(status_code, body)


class AmojoRateLimitedError(RateLimitedError, AmojoAPIError):
    """The Chats API asks us to slow down (429)."""

    def __init__(self, status_code: int, body: str, retry_after: float | None = None) -> None:
        super().__init__(f"Chats API answered {status_code}", retry_after=retry_after)
        self._init_api(status_code, body)


class AmojoRejectedError(PermanentDeliveryError, AmojoAPIError):
    """The Chats API refused the request (4xx); sending it again will not help."""

    def __init__(self, status_code: int, body: str) -> None:
        self._init_api(status_code, body)
        detail = self.description or self.error_type or body[:200] or "no details"
        super().__init__(f"Chats API answered {status_code}: {detail}")


class AmojoUnavailableError(TransientDeliveryError):
    """The Chats API could not be reached or did not answer in time."""


@dataclass(frozen=True, slots=True)
class SentMessage:
    amojo_msgid: str  # amoCRM's id (the reply calls it "msgid")
    bridge_msgid: str  # ours, echoed back as "ref_id"


def encode(body: dict[str, Any]) -> bytes:
    """Serialize once: the signature covers exactly these bytes."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class AmojoClient:
    def __init__(
        self, http: httpx.AsyncClient, channel_id: str, limiter: TokenBucket | None = None
    ) -> None:
        self._http = http
        self.channel_id = channel_id
        self._limiter = limiter

    @classmethod
    def create(
        cls,
        base_url: str,
        channel_id: str,
        channel_secret: str,
        timeout: float = 10.0,
        rate: float = 0.0,
    ) -> AmojoClient:
        http = httpx.AsyncClient(
            base_url=base_url,
            auth=AmojoAuth(channel_secret),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            headers={"User-Agent": "amo-chat-bridge"},
        )
        limiter = TokenBucket(rate, max(1.0, rate * 2)) if rate > 0 else None
        return cls(http, channel_id, limiter)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- channel level ---------------------------------------------------------------------
    async def connect(
        self, account_id: str, title: str | None = None, *, time_window_disabled: bool = False
    ) -> dict[str, Any]:
        request = ConnectRequest(
            account_id=account_id,
            title=title or None,
            is_time_window_disabled=True if time_window_disabled else None,
        )
        return await self._request("POST", f"{PREFIX}/{self.channel_id}/connect", request.body())

    async def disconnect(self, account_id: str) -> None:
        request = DisconnectRequest(account_id=account_id)
        await self._request("DELETE", f"{PREFIX}/{self.channel_id}/disconnect", request.body())

    # -- per scope -------------------------------------------------------------------------
    async def create_chat(
        self, scope_id: str, conversation_id: str, user: Participant
    ) -> dict[str, Any]:
        request = CreateChat(conversation_id=conversation_id, user=user)
        return await self._request("POST", f"{PREFIX}/{scope_id}/chats", request.body())

    async def send_message(self, scope_id: str, payload: NewMessage) -> SentMessage:
        answer = await self._request(
            "POST",
            f"{PREFIX}/{scope_id}",
            {"event_type": "new_message", "payload": payload.body()},
        )
        # The reply reverses the names: "msgid" is amoCRM's id, "ref_id" is ours.
        sent = answer.get("new_message") or {}
        return SentMessage(str(sent.get("msgid", "")), str(sent.get("ref_id", payload.msgid)))

    async def edit_message(self, scope_id: str, payload: EditedMessage) -> None:
        await self._request(
            "POST",
            f"{PREFIX}/{scope_id}",
            {"event_type": "edit_message", "payload": payload.body()},
        )

    async def update_delivery_status(
        self,
        scope_id: str,
        amojo_msgid: str,
        status: int,
        error_code: int | None = None,
        error: str | None = None,
    ) -> None:
        request = DeliveryStatusUpdate(msgid=amojo_msgid, delivery_status=status)
        if status == -1:
            request = request.model_copy(
                update={"error_code": error_code or 905, "error": error or "Delivery failed"}
            )
        path = f"{PREFIX}/{scope_id}/{amojo_msgid}/delivery_status"
        await self._request("POST", path, request.body())

    async def send_typing(self, scope_id: str, conversation_id: str, sender_id: str) -> None:
        request = TypingRequest(conversation_id=conversation_id, sender=Participant(id=sender_id))
        await self._request("POST", f"{PREFIX}/{scope_id}/typing", request.body())

    async def react(
        self,
        scope_id: str,
        conversation_id: str,
        user_id: str,
        *,
        msgid: str | None = None,
        amojo_msgid: str | None = None,
        emoji: str | None = None,
    ) -> None:
        request = ReactionRequest(
            conversation_id=conversation_id,
            user=Participant(id=user_id),
            type="react" if emoji else "unreact",
            id=amojo_msgid or None,
            msgid=None if amojo_msgid else msgid,
            emoji=emoji or None,
        )
        await self._request("POST", f"{PREFIX}/{scope_id}/react", request.body())

    async def history(
        self, scope_id: str, chat_id: str, *, offset: int = 0, limit: int = 50
    ) -> list[dict[str, Any]]:
        answer = await self._request(
            "GET",
            f"{PREFIX}/{scope_id}/chats/{chat_id}/history",
            None,
            params={"offset": offset, "limit": min(limit, 50)},
        )
        messages = answer.get("messages")
        return list(messages) if isinstance(messages, list) else []

    # -- transport -------------------------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        content = encode(body) if body is not None else b""
        if self._limiter is not None:
            await self._limiter.acquire()
        try:
            response = await self._http.request(method, path, content=content, params=params)
        except httpx.TimeoutException as error:
            raise AmojoUnavailableError(
                f"Chats API did not answer in time ({type(error).__name__})"
            ) from None
        except httpx.TransportError as error:
            raise AmojoUnavailableError(
                f"Chats API unreachable ({type(error).__name__})"
            ) from None
        _raise_for_response(response)
        if not response.content:
            return {}
        try:
            parsed = response.json()
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {"result": parsed}


def _raise_for_response(response: httpx.Response) -> None:
    """The one place where a Chats API answer becomes an error."""
    status = response.status_code
    if status < 300:
        return
    body = response.text
    if status == 429:
        raise AmojoRateLimitedError(status, body, _retry_after(response))
    if status >= 500 or status == 408:
        raise AmojoTransientError(status, body, _retry_after(response))
    raise AmojoRejectedError(status, body)


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds when it is a finite, non-negative number of at most
    ``MAX_RETRY_AFTER``; anything else (``nan``, ``inf``, a date, garbage) is ignored."""
    value = response.headers.get("Retry-After")
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
