"""A bridge connected to one amoCRM account and one bot, with one customer ready to write."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bridge.container import Container
from bridge.crypto import generate_key
from bridge.sandbox.harness import SandboxBridge, running_bridge
from bridge.settings import Settings
from emulators.amojo.app import AmojoEmulator
from emulators.loopback import LoopbackServer, bind_loopback
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


@dataclass
class Deployment:
    """The real ``amo-bridge serve`` as subprocesses, connected to emulators on loopback."""

    env: dict[str, str]
    workdir: Path
    amojo: AmojoEmulator
    telegram: TelegramEmulator
    port: int
    scope_id: str = ""
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def start(self) -> asyncio.subprocess.Process:
        ready = self.webhook_resets()
        process = await self.spawn()
        # Ready once it asks Telegram to drop any webhook, right before its first poll (a long
        # poll itself is only logged by the emulator once it returns).
        await self.telegram.wait_for(lambda: self.webhook_resets() > ready, timeout=30)
        await self.wait_listening(process)
        return process

    async def wait_listening(
        self, process: asyncio.subprocess.Process, timeout: float = 30
    ) -> None:
        """uvicorn binds its port only after the app's start-up: poll (bounded) until a
        connection is accepted."""
        async with asyncio.timeout(timeout):
            while True:
                assert process.returncode is None, self.logs()
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except ConnectionRefusedError:
                    await asyncio.sleep(0.02)  # poll interval, not a synchronisation
                    continue
                writer.close()
                return

    async def spawn(self) -> asyncio.subprocess.Process:
        """Start ``amo-bridge serve`` without waiting for it to be ready."""
        log = (self.workdir / f"serve-{len(self.processes)}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridge",
            "serve",
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=log,
        )
        self.processes.append(process)
        return process

    def webhook_resets(self) -> int:
        return sum(1 for c in self.telegram.calls if c.method.lower() == "deletewebhook")

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.workdir.glob("serve-*.log")))


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    channel_id, secret = str(uuid.uuid4()), uuid.uuid4().hex + "00000000"
    telegram = TelegramEmulator()
    telegram.add_bot(TOKEN, "shop_test_bot", "Shop")
    telegram.add_user(CUSTOMER, "Anna", "Petrova", "anna_p")
    port_sock = bind_loopback()
    port = port_sock.getsockname()[1]
    port_sock.close()
    amojo = AmojoEmulator(
        channel_id=channel_id,
        channel_secret=secret,
        hook_url_template=f"http://127.0.0.1:{port}/amojo/webhook/:scope_id",
    )
    async with LoopbackServer(telegram.app) as tg, LoopbackServer(amojo.app) as am:
        env = bridge_env(
            channel_id,
            secret,
            am.url,
            tg.url,
            tmp_path / "bridge.db",
            port=str(port),
            retry_base="0.05",
            retry_cap="0.5",
            retry_max_attempts="100",
            amojo_timeout="2",
        )
        deployment = Deployment(env, tmp_path, amojo, telegram, port)
        settings = Settings(
            _env_file=None,
            **{  # type: ignore[call-arg]
                k.removeprefix("BRIDGE_").lower(): v
                for k, v in env.items()
                if k.startswith("BRIDGE_")
            },
        )
        container = Container(settings)
        await container.migrate()
        deployment.scope_id = (await container.accounts.connect(ACCOUNT, TOKEN)).scope_id
        await container.close()
        try:
            yield deployment
        finally:
            for process in deployment.processes:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await amojo.aclose()
            await telegram.aclose()
