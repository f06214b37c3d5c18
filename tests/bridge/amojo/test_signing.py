"""Request signing reproduces the documented example byte for byte; hook checks are strict."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx

from bridge.amojo.signing import AmojoAuth, content_md5, sign_hook, verify_hook_signature

SECRET = "f2d7f8704eff95087ed45b23ba99c0b5aac8278e"
CHANNEL = "344a5002-f8ca-454d-af3d-396180102ac7"
BODY = (
    b'{"account_id":"52e591f7-c98f-4255-8495-827210138c81",'
    b'"title":"ChatsIntegration","hook_api_version":"v2"}'
)
DATE = "Wed, 15 Dec 2021 23:12:55 +0000"


def test_documented_connect_example_is_reproduced_byte_for_byte() -> None:
    auth = AmojoAuth(SECRET, clock=lambda: parsedate_to_datetime(DATE))
    request = httpx.Request(
        "POST", f"https://amojo.amocrm.ru/v2/origin/custom/{CHANNEL}/connect", content=BODY
    )
    signed = next(auth.auth_flow(request))
    assert len(BODY) == 104
    assert signed.headers["Date"] == DATE
    assert signed.headers["Content-Type"] == "application/json"
    assert signed.headers["Content-MD5"] == "2fbcb3c652b61e24e004daddfc73d0ce"
    assert signed.headers["X-Signature"] == "81211856ce0c5095f3e1a90c0a38dc9d736cfd55"


def test_query_string_is_not_signed_and_get_uses_empty_md5() -> None:
    auth = AmojoAuth(SECRET, clock=lambda: parsedate_to_datetime(DATE))
    with_query = next(
        auth.auth_flow(httpx.Request("GET", "https://h/v2/x/history?offset=0&limit=5"))
    )
    without = next(auth.auth_flow(httpx.Request("GET", "https://h/v2/x/history")))
    assert (
        with_query.headers["Content-MD5"] == content_md5(b"") == "d41d8cd98f00b204e9800998ecf8427e"
    )
    assert with_query.headers["X-Signature"] == without.headers["X-Signature"]


def test_hook_signature_is_checked_over_raw_body() -> None:
    body = b'{"account_id":"a","message":{}}'
    good = sign_hook(SECRET, body)
    assert verify_hook_signature(SECRET, body, good)
    assert verify_hook_signature(SECRET, body, good.upper())
    assert not verify_hook_signature(SECRET, body + b" ", good)
    assert not verify_hook_signature("other-secret", body, good)
    assert not verify_hook_signature(SECRET, body, None)
    assert not verify_hook_signature(SECRET, body, "")


def test_hook_signed_without_trailing_newline_is_accepted() -> None:
    body = b'{"a":1}'
    assert verify_hook_signature(SECRET, body + b"\r\n", sign_hook(SECRET, body))
