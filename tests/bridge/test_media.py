"""Signed media links: what url_for puts in, resolve gives back; tampered or old links fail."""

from __future__ import annotations

import time

import pytest

from bridge.crypto import MediaTokenError, MediaTokenExpiredError, SecretBox, generate_key
from bridge.ids import ConnectionId, MediaRef
from bridge.media import MediaClaim, MediaLinks
from bridge.messages import Attachment, AttachmentKind


def _attachment(mime_type: str | None = "image/jpeg", file_name: str = "cat.jpg") -> Attachment:
    return Attachment(
        AttachmentKind.PICTURE,
        MediaRef("file-id-1"),
        file_name=file_name,
        file_size=10,
        mime_type=mime_type,
    )


def _token(url: str) -> str:
    prefix = "https://bridge.example/media/"
    assert url.startswith(prefix)
    return url.removeprefix(prefix)


def test_a_link_resolves_to_the_connection_reference_name_and_type() -> None:
    links = MediaLinks(SecretBox(generate_key()), "https://bridge.example/", ttl=60)
    url = links.url_for("conn-1", _attachment())
    assert links.resolve(_token(url)) == MediaClaim(
        ConnectionId("conn-1"), MediaRef("file-id-1"), "cat.jpg", "image/jpeg"
    )


def test_a_link_without_a_type_or_name_resolves_to_none_and_file() -> None:
    links = MediaLinks(SecretBox(generate_key()), "https://bridge.example", ttl=60)
    url = links.url_for("conn-1", _attachment(mime_type=None, file_name=""))
    claim = links.resolve(_token(url))
    assert (claim.mime_type, claim.file_name) == (None, "file")


def test_a_link_older_than_its_ttl_is_refused_as_expired() -> None:
    links = MediaLinks(SecretBox(generate_key()), "https://bridge.example", ttl=60)
    url = links.url_for("conn-1", _attachment(), now=time.time() - 61)
    with pytest.raises(MediaTokenExpiredError):
        links.resolve(_token(url))


def test_a_tampered_link_or_one_signed_with_another_key_is_refused() -> None:
    links = MediaLinks(SecretBox(generate_key()), "https://bridge.example", ttl=60)
    token = _token(links.url_for("conn-1", _attachment()))
    payload, mac = token.split(".")
    forged = links.url_for("conn-2", _attachment()).split("/media/")[1].split(".")[0]
    with pytest.raises(MediaTokenError):
        links.resolve(f"{forged}.{mac}")  # another claim under this link's MAC
    with pytest.raises(MediaTokenError):
        links.resolve(f"{payload}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}")
    other = MediaLinks(SecretBox(generate_key()), "https://bridge.example", ttl=60)
    with pytest.raises(MediaTokenError):
        other.resolve(token)


def test_without_a_secret_key_no_link_is_made_or_read() -> None:
    links = MediaLinks(None, "https://bridge.example", ttl=60)
    with pytest.raises(RuntimeError, match="BRIDGE_SECRET_KEY"):
        links.url_for("conn-1", _attachment())
    with pytest.raises(RuntimeError, match="BRIDGE_SECRET_KEY"):
        links.resolve("anything")
