"""The real FastAPI app in-process (httpx.ASGITransport) over a real container and SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from bridge.container import Container
from bridge.settings import Settings
from bridge.web.app import create_app

CHANNEL_SECRET = "channel-secret-for-web-tests"


@dataclass
class Web:
    container: Container
    http: httpx.AsyncClient


@asynccontextmanager
async def web_app(tmp_path: Path, **settings: Any) -> AsyncIterator[Web]:
    """The app with a migrated store and nothing started: each test starts what it checks."""
    container = Container(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'web.db'}",
            channel_id=uuid.uuid4(),
            channel_secret=SecretStr(CHANNEL_SECRET),
            **settings,
        )
    )
    await container.migrate()
    app = create_app(container, manage_lifecycle=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as http:
            yield Web(container, http)
    finally:
        await container.close()
