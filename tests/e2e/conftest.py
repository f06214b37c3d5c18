"""A bridge connected to one amoCRM account and one bot, with one customer ready to write."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.crypto import generate_key
from bridge.sandbox.harness import SandboxBridge, running_bridge
from emulators.amojo.app import AmojoEmulator
from emulators.telegram.app import TelegramEmulator
from storage.models import Connection
from tests.conftest import FAST_RETRY

TOKEN = "4242001:TEST-token-for-the-emulator-only"
BOT_ID = "4242001"
ACCOUNT = "52e591f7-c98f-4255-8495-827210138c81"
CUSTOMER = 5001


def bridge_env(
    channel_id: str,
    secret: str,
    amojo_url: str,
    telegram_url: str,
    database: Path,
    **extra: str,
) -> dict[str, str]:
    """The environment of a bridge subprocess wired to emulators on loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update(
        BRIDGE_CHANNEL_ID=channel_id,
        BRIDGE_CHANNEL_SECRET=secret,
        BRIDGE_SECRET_KEY=generate_key(),
        BRIDGE_AMOJO_URL=amojo_url,
        BRIDGE_TELEGRAM_API_URL=telegram_url,
        BRIDGE_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        **{f"BRIDGE_{name.upper()}": value for name, value in extra.items()},
    )
    return env


@dataclass
class Connected:
    bridge: SandboxBridge
    connection: Connection

    @property
    def telegram(self) -> TelegramEmulator:
        return self.bridge.telegram

    @property
    def amojo(self) -> AmojoEmulator:
        return self.bridge.amojo

    @property
    def scope_id(self) -> str:
        return self.connection.scope_id

    async def customer_writes(self, *texts: str, user: int = CUSTOMER) -> None:
        before = len(self.amojo.messages)
        for text in texts:
            self.telegram.user_sends_text(TOKEN, user, text)
        await self.amojo.wait_for(lambda: len(self.amojo.messages) >= before + len(texts))

    def conversation_id(self, user: int = CUSTOMER) -> str:
        return f"telegram-{BOT_ID}-{user}"


async def connect(bridge: SandboxBridge) -> Connected:
    bridge.telegram.add_bot(TOKEN, "shop_test_bot", "Shop")
    bridge.telegram.add_user(CUSTOMER, "Anna", "Petrova", "anna_p")
    row = await bridge.container.accounts.connect(ACCOUNT, TOKEN, "Test shop")
    return Connected(bridge, row)


@pytest.fixture
async def connected(sandbox: SandboxBridge) -> Connected:
    return await connect(sandbox)


@pytest.fixture
async def connected_webhook_mode(tmp_path: Path) -> AsyncIterator[Connected]:
    async with running_bridge(tmp_path, public_url="auto", **FAST_RETRY) as bridge:
        yield await connect(bridge)
