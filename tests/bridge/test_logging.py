"""Every log line the bridge writes, console or JSON, message or traceback, is free of secrets."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest

from bridge.logging import make_handler, redact, register_secret

TOKEN = "7012345678:AAH1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"
CHANNEL_SECRET = "f2d7f8704eff95087ed45b23ba99c0b5aac8278e"


@pytest.fixture(params=["console", "json"])
def written(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through the bridge's real handler into a buffer."""
    stream = io.StringIO()
    logger = logging.getLogger(f"test.redaction.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = make_handler(request.param, secrets=[CHANNEL_SECRET], stream=stream)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def fail_with(text: str) -> None:
    raise RuntimeError(text)


def test_bot_token_inside_a_bot_api_url_is_redacted(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = written
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates?offset=1"
    logger.warning("request to %s failed", url)
    logger.info("plain %s, file path /file/bot%s/photos/1.jpg", TOKEN, TOKEN)
    try:
        fail_with(f"Cannot connect to {url}")
    except RuntimeError:
        logger.exception("poll failed")
    text = stream.getvalue()
    assert "Traceback" in text and "poll failed" in text
    assert TOKEN not in text
    assert TOKEN.split(":", 1)[1] not in text
    assert text.count("<redacted-token>") == 4


def test_channel_secret_is_redacted_from_messages_and_tracebacks(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = written
    logger.error("signing with %s", CHANNEL_SECRET)
    try:
        fail_with(f"bad signature key {CHANNEL_SECRET}")
    except RuntimeError:
        logger.exception("hook rejected")
    text = stream.getvalue()
    assert CHANNEL_SECRET not in text
    assert "hook rejected" in text and "bad signature key <redacted>" in text


def test_a_registered_token_is_redacted_whatever_its_shape(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = written
    # Too short for the token pattern: only the registration catches it (and its secret part).
    odd_token = f"4242:short-{uuid.uuid4().hex[:8]}"
    secret_part = odd_token.split(":", 1)[1]
    logger.info("before registration %s", "nothing secret")
    register_secret(odd_token)
    logger.info("token %s and its secret %s alone", odd_token, secret_part)
    try:
        fail_with(f"getMe with {odd_token}")
    except RuntimeError:
        logger.exception("check failed")
    text = stream.getvalue()
    assert odd_token not in text and secret_part not in text
    assert "check failed" in text


def test_json_lines_stay_valid_json_after_redaction() -> None:
    stream = io.StringIO()
    logger = logging.getLogger(f"test.redaction.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(make_handler("json", stream=stream))
    try:
        fail_with(f'"quoted" {TOKEN}')
    except RuntimeError:
        logger.exception("with %s", TOKEN)
    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["msg"] == "with <redacted-token>"
    assert TOKEN not in entry["exc"] and "<redacted-token>" in entry["exc"]


def test_redact_keeps_ordinary_numbers_and_short_values() -> None:
    register_secret("abc")  # too short to be redacted safely: ignored
    assert redact("order 12345:6 at 10:30, abc") == "order 12345:6 at 10:30, abc"
