"""Signed, expiring links through which amoCRM downloads what customers sent.

The token names the connection and the adapter's media reference; it never carries a bot token,
and the route behind it asks the adapter for a stream.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.crypto import SecretBox
from bridge.ids import ConnectionId, MediaRef
from bridge.messages import Attachment


@dataclass(frozen=True, slots=True)
class MediaClaim:
    connection_id: ConnectionId
    ref: MediaRef
    file_name: str
    mime_type: str | None


class MediaLinks:
    def __init__(self, box: SecretBox | None, base_url: str, ttl: int) -> None:
        self._box = box
        self._base = base_url.rstrip("/")
        self._ttl = ttl

    def url_for(
        self, connection_id: str, attachment: Attachment, *, now: float | None = None
    ) -> str:
        """``now`` (a Unix time) lets a test make a link that has already expired."""
        if self._box is None:
            raise RuntimeError("media links need BRIDGE_SECRET_KEY")
        claims: dict[str, object] = {
            "c": connection_id,
            "r": attachment.ref,
            "n": attachment.file_name,
        }
        if attachment.mime_type:
            claims["m"] = attachment.mime_type
        return f"{self._base}/media/{self._box.sign_media(claims, self._ttl, now)}"

    def resolve(self, token: str) -> MediaClaim:
        """Raises crypto.MediaTokenError (tampered) or MediaTokenExpiredError (too old)."""
        if self._box is None:
            raise RuntimeError("media links need BRIDGE_SECRET_KEY")
        claims = self._box.open_media(token)
        mime = claims.get("m")
        return MediaClaim(
            ConnectionId(str(claims["c"])),
            MediaRef(str(claims["r"])),
            str(claims.get("n") or "file"),
            mime if isinstance(mime, str) else None,
        )
