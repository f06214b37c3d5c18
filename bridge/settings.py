"""Configuration from the environment (``BRIDGE_*``) and ``.env``; see shared/interface.md."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from ipaddress import ip_address
from typing import Literal, TypeVar
from uuid import UUID

from cryptography.fernet import Fernet
from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "BRIDGE_"


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class StoreSettings(BaseSettings):
    """What a command that only reads the database needs (``status``): no channel secret."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite+aiosqlite:///./data/bridge.db"
    log_format: Literal["console", "json"] = "console"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// (an async driver)"
            )
        return value


class Settings(StoreSettings):
    amojo_url: AnyHttpUrl = AnyHttpUrl("https://amojo.amocrm.ru")
    channel_id: UUID
    channel_secret: SecretStr
    channel_bot_id: str = ""
    telegram_api_url: AnyHttpUrl = AnyHttpUrl("https://api.telegram.org")
    public_url: AnyHttpUrl | None = None
    secret_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    admin_token: SecretStr | None = None
    # A send whose outcome is unknown: "resend" (at least once) or "report" (at most once).
    uncertain_sends: Literal["resend", "report"] = "resend"
    # Tuning beyond the documented interface (all optional).
    worker_concurrency: int = Field(default=8, ge=1, le=256)
    amojo_timeout: float = Field(default=10.0, gt=0)
    telegram_timeout: float = Field(default=30.0, gt=0)
    media_link_ttl: int = Field(default=7 * 24 * 3600, gt=0)
    job_lease: float = Field(default=120.0, gt=0)
    telegram_chat_rate: float = Field(default=1.0, gt=0)
    telegram_chat_burst: int = Field(default=3, ge=1)
    telegram_bot_rate: float = Field(default=30.0, gt=0)
    # Let the media uploader fetch operators' links from loopback/private addresses (a lab).
    allow_private_media_urls: bool = False
    # /readyz answers 503 once a receiver has been down this long (seconds).
    receiver_down_after: float = Field(default=60.0, gt=0)
    amojo_rate: float = Field(default=50.0, ge=0)  # requests/s to the Chats API; 0 = unlimited
    retry_base: float = Field(default=2.0, gt=0)
    retry_cap: float = Field(default=300.0, gt=0)
    retry_max_attempts: int = Field(default=16, ge=1)
    retry_max_age: float = Field(default=6 * 3600.0, gt=0)
    # The web server against slow or stalled clients: a request's headers, then its body, must
    # arrive within these; beyond max_connections open connections, requests get 503.
    http_header_timeout: float = Field(default=10.0, gt=0)
    http_body_timeout: float = Field(default=30.0, gt=0)
    http_max_connections: int = Field(default=2048, ge=1)

    @field_validator("public_url", "secret_key", "admin_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("channel_secret")
    @classmethod
    def _secret_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("secret_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                Fernet(value.get_secret_value().encode())
            except (ValueError, TypeError):
                raise ValueError(
                    "is not a Fernet key (32 url-safe base64-encoded bytes); "
                    "make one with: amo-bridge keygen"
                ) from None
        return value

    @field_validator("public_url")
    @classmethod
    def _https_unless_loopback(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and value.scheme != "https" and not _is_loopback(value.host):
            raise ValueError("must be https:// (plain http is allowed on loopback only)")
        return value

    @property
    def public_base(self) -> str | None:
        return str(self.public_url).rstrip("/") if self.public_url else None

    @property
    def amojo_base(self) -> str:
        return str(self.amojo_url).rstrip("/")

    @property
    def telegram_base(self) -> str:
        return str(self.telegram_api_url).rstrip("/")


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the first bad variable and what is wrong with it."""
    first = error.errors()[0]
    name = ENV_PREFIX + str(first["loc"][0]).upper() if first.get("loc") else "configuration"
    if first["type"] == "missing":
        return f"{name}: required but not set"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{name}: {message}"


def load_settings(require: Iterable[str] = (), **overrides: object) -> Settings:
    """Build settings or stop the program with one line on stderr and exit status 2."""
    settings = _load(Settings, overrides)
    for name in require:
        if getattr(settings, name) is None:
            print(f"error: {ENV_PREFIX}{name.upper()}: required but not set", file=sys.stderr)  # noqa: T201
            raise SystemExit(2)
    return settings


def load_store_settings(**overrides: object) -> StoreSettings:
    """Only what reading the database needs; the channel's settings may be absent."""
    return _load(StoreSettings, overrides)


S = TypeVar("S", bound=StoreSettings)


def _load(model: type[S], overrides: dict[str, object]) -> S:
    try:
        return model(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        print(f"error: {describe_validation_error(error)}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None
