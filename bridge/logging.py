"""The only place that configures logging: console or JSON lines, with secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import TextIO

# Anything shaped like a Telegram bot token, wherever it appears: inside a Bot API URL it
# follows "/bot" with no word boundary before the digits, so none is required; only a digit
# right before is excluded (the id would be a tail of a longer number).
TOKEN_PATTERN = re.compile(r"(?<![0-9])[0-9]{5,}:[A-Za-z0-9_-]{20,}")
BOT_TOKEN_SHAPE = re.compile(r"[0-9]+:(?P<secret>.+)")
STRUCTURED_FIELDS = ("connection_id", "conversation_id", "job_id")
MIN_SECRET_LENGTH = 6  # shorter values would blank out ordinary words

# Secrets that became known after logging was configured (bot tokens as connections load).
# Process-wide on purpose: every handler and every later configure_logging redacts them.
_registered: set[str] = set()


def register_secret(value: str) -> None:
    """Redact ``value`` from every log line from now on. For a bot token its secret part
    (after the colon) is registered too: it is the part that must never leak alone."""
    for secret in (value, *_bot_secret(value)):
        if len(secret) >= MIN_SECRET_LENGTH:
            _registered.add(secret)


def _bot_secret(value: str) -> tuple[str, ...]:
    match = BOT_TOKEN_SHAPE.fullmatch(value)
    return (match["secret"],) if match else ()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without bot tokens, registered secrets and ``secrets``."""
    text = TOKEN_PATTERN.sub("<redacted-token>", text)
    # Longest first: a token's secret part must not be blanked before the whole token is.
    for secret in sorted({*_registered, *secrets}, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, "<redacted>")
    return text


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH]

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in STRUCTURED_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = " ".join(
            f"{name}={getattr(record, name)}"
            for name in STRUCTURED_FIELDS
            if hasattr(record, name)
        )
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            line += f"  [{fields}]"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


def make_handler(
    fmt: str = "console", secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """The one handler the bridge logs through: formatted, every line redacted."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(RedactingFilter(secrets))
    return handler


def configure_logging(
    fmt: str = "console", level: int = logging.INFO, secrets: Iterable[str] = ()
) -> None:
    handler = make_handler(fmt, secrets)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # aiogram logs request URLs at DEBUG (they carry the token); keep third parties quieter.
    for noisy in ("aiogram", "aiohttp", "httpx", "httpcore", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
