"""Secrets at rest (Fernet) and signed, expiring media tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from cryptography.fernet import Fernet, InvalidToken


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted: wrong BRIDGE_SECRET_KEY or corrupt data."""


class MediaTokenError(Exception):
    """The media token is malformed or its signature does not match."""


class MediaTokenExpiredError(MediaTokenError):
    """The media token was valid but has expired."""


def generate_key() -> str:
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts tokens for the database; the plaintext exists only in memory."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())
        # A separate key for media links, derived so that one env var is enough.
        self._mac_key = hashlib.sha256(b"amo-bridge media links\0" + key.encode()).digest()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretDecryptionError(SecretDecryptionError.__doc__) from None

    def sign_media(self, claims: dict[str, object], ttl: int, now: float | None = None) -> str:
        """A URL-safe token: base64(json claims + expiry) + '.' + HMAC-SHA256."""
        body = dict(claims, exp=int((now or time.time()) + ttl))
        payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{self._mac(payload)}"

    def open_media(self, token: str, now: float | None = None) -> dict[str, object]:
        payload, _, mac = token.partition(".")
        # A token is whatever the URL held: non-ASCII text is possible, and compare_digest
        # refuses such str (TypeError). Bytes compare any text, in constant time.
        if (
            not payload
            or not mac
            or not payload.isascii()
            or not hmac.compare_digest(mac.encode("utf-8", "replace"), self._mac(payload).encode())
        ):
            raise MediaTokenError(MediaTokenError.__doc__)
        try:
            claims = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            raise MediaTokenError(MediaTokenError.__doc__) from None
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
            raise MediaTokenError(MediaTokenError.__doc__)
        if claims["exp"] < (now or time.time()):
            raise MediaTokenExpiredError(MediaTokenExpiredError.__doc__)
        return claims

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._mac_key, payload.encode(), hashlib.sha256).digest()[:20])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
