"""Request signing for the Chats API and verification of its webhooks.

Requests *to* amoCRM carry ``Date``, ``Content-Type``, ``Content-MD5`` and ``X-Signature``:
HMAC-SHA1 (key = the channel secret's ASCII bytes) over
``METHOD\\nmd5\\ncontent-type\\ndate\\npath``. Hooks *from* amoCRM carry ``X-Signature`` =
HMAC-SHA1 of the raw body only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

import httpx

CONTENT_TYPE = "application/json"


def content_md5(body: bytes) -> str:
    """Lower-case hex MD5 of the exact bytes sent (the Chats API's ``Content-MD5``)."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def format_date(moment: datetime) -> str:
    """RFC 2822 with ``+0000``; ``formatdate()`` would give ``-0000``, which amoCRM refuses."""
    return format_datetime(moment.astimezone(UTC))


def string_to_sign(method: str, md5: str, content_type: str, date: str, path: str) -> str:
    return "\n".join([method.upper(), md5, content_type, date, path])


def sign(secret: str, message: str | bytes) -> str:
    """Lower-case hex HMAC-SHA1 keyed with the secret as ASCII (never hex-decoded)."""
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(secret.encode(), data, hashlib.sha1).hexdigest()


def request_signature_headers(
    secret: str, method: str, path: str, body: bytes, now: datetime | None = None
) -> dict[str, str]:
    """The four headers a Chats API request needs; ``path`` carries no query string."""
    date = format_date(now or datetime.now(UTC))
    md5 = content_md5(body)
    signature = sign(secret, string_to_sign(method, md5, CONTENT_TYPE, date, path))
    return {
        "Date": date,
        "Content-Type": CONTENT_TYPE,
        "Content-MD5": md5,
        "X-Signature": signature,
    }


def verify_request_signature(
    secret: str, method: str, path: str, headers: dict[str, str], body: bytes
) -> bool:
    """Check a signed request the way the Chats API does (used by the emulator)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    md5 = lowered.get("content-md5", "")
    if md5 != content_md5(body):
        return False
    expected = sign(
        secret,
        string_to_sign(
            method, md5, lowered.get("content-type", ""), lowered.get("date", ""), path
        ),
    )
    given = lowered.get("x-signature", "").lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected.encode(), given)


def sign_hook(secret: str, body: bytes) -> str:
    """``X-Signature`` of a hook amoCRM sends: HMAC-SHA1 of the raw body."""
    return sign(secret, body)


def verify_hook_signature(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check; also accepts the body without trailing CR/LF, as public clients do.

    Compared as bytes: ``hmac.compare_digest`` raises on a ``str`` with non-ASCII characters,
    and a header may carry any.
    """
    if not signature:
        return False
    given = signature.strip().lower().encode("utf-8", "replace")
    if hmac.compare_digest(sign(secret, body).encode(), given):
        return True
    trimmed = body.rstrip(b"\r\n")
    return trimmed != body and hmac.compare_digest(sign(secret, trimmed).encode(), given)


class AmojoAuth(httpx.Auth):
    """httpx auth flow that signs each request over the exact body bytes it carries."""

    requires_request_body = True

    def __init__(self, secret: str, clock: Callable[[], datetime] | None = None) -> None:
        self._secret = secret
        self._clock = clock or (lambda: datetime.now(UTC))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = urlsplit(str(request.url)).path
        headers = request_signature_headers(
            self._secret, request.method, path, request.content, self._clock()
        )
        request.headers.update(headers)
        yield request
