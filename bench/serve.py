"""The real bridge: ``python -m bridge serve`` as a subprocess, set up as an operator would.

The account is connected beforehand from this process with the bridge's own use case
(``Container.accounts.connect``, as ``amo-bridge connect`` does) against the same database.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.config import ACCOUNT, LIFTED_LIMITS, TOKEN
from bench.emulators import Emulators
from bench.procs import Child, child_env, memory_mb, spawn, wait_http
from bridge.settings import Settings


@dataclass
class BridgeSetup:
    database_url: str
    webhook: bool
    workers: int | None  # None: the bridge's default


def bridge_env(emulators: Emulators, setup: BridgeSetup, secret_key: str) -> dict[str, str]:
    port = emulators.bridge_port
    values = {
        "BRIDGE_CHANNEL_ID": emulators.channel_id,
        "BRIDGE_CHANNEL_SECRET": emulators.channel_secret,
        "BRIDGE_SECRET_KEY": secret_key,
        "BRIDGE_AMOJO_URL": emulators.amojo_url,
        "BRIDGE_TELEGRAM_API_URL": emulators.telegram_url,
        "BRIDGE_DATABASE_URL": setup.database_url,
        "BRIDGE_HOST": "127.0.0.1",
        "BRIDGE_PORT": str(port),
        "BRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}" if setup.webhook else "",
        **LIFTED_LIMITS,
    }
    if setup.workers is not None:
        values["BRIDGE_WORKER_CONCURRENCY"] = str(setup.workers)
    return values


def settings_from_env(env: dict[str, str]) -> Settings:
    values = {k.removeprefix("BRIDGE_").lower(): v for k, v in env.items()}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def connect_account(env: dict[str, str]) -> tuple[str, str]:
    """Migrate the database and connect the bench account: (scope_id, connection id)."""
    from bridge.container import Container

    container = Container(settings_from_env(env))
    try:
        await container.migrate()
        row = await container.accounts.connect(ACCOUNT, TOKEN, "Bench")
        return row.scope_id, row.id
    finally:
        await container.close()


class Bridge:
    """One ``serve`` process: start, wait until it listens and receives, stop cleanly."""

    def __init__(
        self, emulators: Emulators, setup: BridgeSetup, workdir: Path, name: str, secret_key: str
    ) -> None:
        self.emulators = emulators
        self.setup = setup
        self.workdir = workdir
        self.name = name
        # one key per database: secrets stored by an earlier process must stay readable
        self.env = bridge_env(emulators, setup, secret_key)
        self.child: Child | None = None
        self.profiler: asyncio.subprocess.Process | None = None
        self.started_rss_mb = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.emulators.bridge_port}"

    @property
    def pid(self) -> int:
        assert self.child is not None
        return self.child.pid

    async def connect(self) -> tuple[str, str]:
        return await connect_account(self.env)

    async def start(self) -> None:
        summary = await self.emulators.telegram_summary()
        method = "setWebhook" if self.setup.webhook else "deleteWebhook"
        before = summary["calls_by_method"].get(method, 0)
        self.child = await spawn(
            f"bridge-{self.name}",
            ["-m", "bridge", "serve"],
            env=child_env(self.env),
            cwd=self.workdir,
            log_dir=self.workdir,
        )
        await wait_http(f"{self.url}/readyz", self.child)
        # Receiving once the adapter has (un)set the bot's webhook: in polling mode the first
        # getUpdates follows at once, in webhook mode Telegram pushes from then on.
        deadline = time.monotonic() + 30
        while (await self.emulators.telegram_summary())["calls_by_method"].get(
            method, 0
        ) <= before:
            if time.monotonic() > deadline or self.child.process.returncode is not None:
                raise RuntimeError(f"bridge never called {method}:\n{self.child.log_tail()}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        self.started_rss_mb = memory_mb(self.pid, "VmRSS")

    def peak_rss_mb(self) -> float:
        return memory_mb(self.pid, "VmHWM") if self.child else 0.0

    async def profile(self, output: Path) -> None:
        """Sample the bridge with py-spy until ``stop_profile`` (raw collapsed stacks)."""
        # py-spy is not a dependency: found beside this interpreter or on PATH
        beside = Path(sys.executable).with_name("py-spy")
        program = str(beside) if beside.exists() else shutil.which("py-spy")
        if program is None:
            raise RuntimeError("--profile needs py-spy: pip install py-spy")
        self.profiler = await asyncio.create_subprocess_exec(
            program,
            "record",
            "--pid",
            str(self.pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--nonblocking",
            "--threads",
            "--output",
            str(output),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)  # attaching takes a moment; samples before it are lost

    async def stop_profile(self) -> None:
        if self.profiler is None or self.profiler.returncode is not None:
            return
        self.profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.profiler.wait(), 30)
        self.profiler = None

    async def stop(self) -> int | None:
        await self.stop_profile()
        if self.child is None:
            return None
        return await self.child.stop(20.0)
