"""Secrets at rest and media tokens."""

from __future__ import annotations

import pytest

from bridge.crypto import (
    MediaTokenError,
    MediaTokenExpiredError,
    SecretBox,
    SecretDecryptionError,
    generate_key,
)


def test_token_round_trip_and_wrong_key() -> None:
    box = SecretBox(generate_key())
    sealed = box.encrypt("123:secret-token")
    assert "secret-token" not in sealed
    assert box.decrypt(sealed) == "123:secret-token"
    with pytest.raises(SecretDecryptionError):
        SecretBox(generate_key()).decrypt(sealed)


def test_media_token_is_signed_and_expires() -> None:
    box = SecretBox(generate_key())
    token = box.sign_media({"c": "conn", "r": "file-id"}, ttl=60, now=1000.0)
    assert box.open_media(token, now=1030.0)["r"] == "file-id"
    with pytest.raises(MediaTokenExpiredError):
        box.open_media(token, now=1061.0)
    payload, mac = token.split(".")
    with pytest.raises(MediaTokenError):
        box.open_media(payload + "." + mac[:-2] + "AA", now=1030.0)
    with pytest.raises(MediaTokenError):
        SecretBox(generate_key()).open_media(token, now=1030.0)
    with pytest.raises(MediaTokenError):
        box.open_media("garbage", now=1030.0)


def test_media_token_with_non_ascii_characters_is_rejected_not_a_crash() -> None:
    box = SecretBox(generate_key())
    token = box.sign_media({"c": "conn", "r": "file-id"}, ttl=60, now=1000.0)
    payload, mac = token.split(".")
    for forged in (f"{payload}.{mac[:-1]}é", f"{payload}.\udcff", f"{payload}é.{mac}", "é.é"):
        with pytest.raises(MediaTokenError):
            box.open_media(forged, now=1030.0)
