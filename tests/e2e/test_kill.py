"""kill -9 and SIGTERM against the real ``amo-bridge serve`` subprocess: nothing is lost.

The emulators run in the test process on loopback; the bridge is a separate process that
is killed without warning and started again on the same database.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bridge.container import Container
from bridge.settings import Settings
from emulators.amojo.app import AmojoEmulator
from emulators.loopback import LoopbackServer, bind_loopback
from emulators.telegram.app import TelegramEmulator
from tests.e2e.conftest import ACCOUNT, CUSTOMER, TOKEN, bridge_env

pytestmark = pytest.mark.e2e


@dataclass
class Deployment:
    env: dict[str, str]
    workdir: Path
    amojo: AmojoEmulator
    telegram: TelegramEmulator
    scope_id: str = ""
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def start(self) -> asyncio.subprocess.Process:
        log = (self.workdir / f"serve-{len(self.processes)}.log").open("wb")
        ready = self.webhook_resets()
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
        # Ready once it asks Telegram to drop any webhook, right before its first poll (a long
        # poll itself is only logged by the emulator once it returns).
        await self.telegram.wait_for(lambda: self.webhook_resets() > ready, timeout=30)
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
        deployment = Deployment(env, tmp_path, amojo, telegram)
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


async def kill9(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL


async def test_kill9_with_20_inbound_messages_queued(deployment: Deployment) -> None:
    amojo, telegram = deployment.amojo, deployment.telegram
    amojo.fail_until(time.monotonic() + 3600, status=503)  # the Chats API stalls
    first = await deployment.start()
    for n in range(20):
        telegram.user_sends_text(TOKEN, CUSTOMER, f"queued {n}")
    bot = telegram.bots[TOKEN]
    # Telegram forgets an update only once the bridge confirmed it, i.e. after storing it.
    await telegram.wait_for(lambda: not bot.updates, timeout=30)
    await kill9(first)
    amojo.fail_until(time.monotonic(), status=503)  # the Chats API is back
    second = await deployment.start()
    await amojo.wait_for(lambda: len(amojo.messages) == 20, timeout=60)
    assert [m.message["text"] for m in amojo.messages] == [f"queued {n}" for n in range(20)]
    assert amojo.duplicates == []
    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 10) == 0, deployment.logs()


async def test_kill9_after_10_hooks_acked_but_not_sent(deployment: Deployment) -> None:
    amojo, telegram = deployment.amojo, deployment.telegram
    first = await deployment.start()
    telegram.user_sends_text(TOKEN, CUSTOMER, "hello")
    await amojo.wait_for(lambda: len(amojo.messages) == 1, timeout=30)
    conversation = amojo.messages[0].conversation_id
    telegram.fail_server_next("sendMessage", 100_000, status=502)  # Telegram is down
    for n in range(10):
        reply = await amojo.send_operator_message(deployment.scope_id, conversation, f"reply {n}")
        assert reply.status == 200
    await telegram.wait_for(
        lambda: any(c.method.lower() == "sendmessage" for c in telegram.calls), timeout=30
    )
    await kill9(first)
    telegram.clear_faults()
    second = await deployment.start()
    await amojo.wait_for(lambda: len(amojo.delivery_statuses) == 10, timeout=60)
    assert [m.params["text"] for m in telegram.sent_to(CUSTOMER)] == [
        f"reply {n}" for n in range(10)
    ]
    assert {s.body["delivery_status"] for s in amojo.delivery_statuses} == {1}
    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 10) == 0, deployment.logs()


async def test_sigterm_releases_an_in_flight_job_and_exits_0(deployment: Deployment) -> None:
    amojo, telegram = deployment.amojo, deployment.telegram
    first = await deployment.start()
    telegram.user_sends_text(TOKEN, CUSTOMER, "hello")
    await amojo.wait_for(lambda: len(amojo.messages) == 1, timeout=30)
    telegram.hang_next("sendMessage")  # the send will be in flight when SIGTERM comes
    reply = await amojo.send_operator_message(
        deployment.scope_id, amojo.messages[0].conversation_id, "in flight"
    )
    assert reply.status == 200
    await telegram.wait_for(lambda: telegram.hanging == 1, timeout=30)
    first.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(first.wait(), 10) == 0, deployment.logs()
    assert "Traceback" not in deployment.logs()
    await deployment.start()
    await amojo.wait_for(lambda: len(amojo.delivery_statuses) == 1, timeout=30)
    assert [m.params["text"] for m in telegram.sent_to(CUSTOMER)] == ["in flight"]
