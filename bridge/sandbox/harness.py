"""``amo-bridge sandbox``: the whole bridge against both emulators on loopback, no accounts needed.

It plays a short conversation both ways and prints it as a transcript with timings. The same
harness (``SandboxBridge``) serves the end-to-end tests and the benchmarks.
"""

from __future__ import annotations

import secrets
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from bridge.container import Container
from bridge.crypto import generate_key
from bridge.sandbox.amojo_emulator import AmojoEmulator
from bridge.sandbox.fault_proxy import FaultProxy
from bridge.sandbox.loopback import LoopbackServer
from bridge.settings import Settings
from bridge.web.app import create_app
from channels.telegram.emulator import TelegramEmulator

SANDBOX_TOKEN = "700000001:SANDBOX-not-a-real-token-0123456789"  # noqa: S105 (emulator only)
SANDBOX_ACCOUNT = "52e591f7-c98f-4255-8495-827210138c81"


@dataclass
class SandboxBridge:
    """A running bridge wired to both emulators (what the sandbox and the e2e tests drive)."""

    settings: Settings
    container: Container
    telegram: TelegramEmulator
    amojo: AmojoEmulator
    telegram_url: str
    amojo_url: str
    bridge_url: str
    amojo_proxy: FaultProxy | None = None


def sandbox_settings(
    directory: Path, amojo_url: str, telegram_url: str, port: int, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{directory / 'bridge.db'}",
        "amojo_url": amojo_url,
        "telegram_api_url": telegram_url,
        "channel_id": str(uuid.uuid4()),
        "channel_secret": secrets.token_hex(20),
        "secret_key": generate_key(),
        "host": "127.0.0.1",
        "port": port,
        "public_url": None,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_bridge(
    directory: Path, *, proxy_amojo: bool = False, **overrides: Any
) -> AsyncIterator[SandboxBridge]:
    """Both emulators and the bridge, each under uvicorn on its own loopback port.

    ``proxy_amojo`` puts a FaultProxy between the bridge and the Chats API emulator.
    """
    async with AsyncExitStack() as stack:
        # Each emulator's aclose() is registered after its server, so it runs first and
        # releases held requests that would otherwise keep uvicorn from shutting down.
        telegram = TelegramEmulator()
        telegram_server = await stack.enter_async_context(LoopbackServer(telegram.app))
        stack.push_async_callback(telegram.aclose)
        bridge_server = LoopbackServer(None)
        public = overrides.pop("public_url", None)
        if public == "auto":
            public = bridge_server.url
        probe = sandbox_settings(
            directory,
            "http://127.0.0.1:1",
            telegram_server.url,
            bridge_server.port,
            public_url=public,
            **overrides,
        )
        amojo = AmojoEmulator(
            channel_id=str(probe.channel_id),
            channel_secret=probe.channel_secret.get_secret_value(),
            hook_url_template=f"{bridge_server.url}/amojo/webhook/:scope_id",
        )
        amojo_server = await stack.enter_async_context(LoopbackServer(amojo.app))
        stack.push_async_callback(amojo.aclose)
        proxy = None
        amojo_url = amojo_server.url
        if proxy_amojo:
            proxy = await stack.enter_async_context(FaultProxy("127.0.0.1", amojo_server.port))
            amojo_url = proxy.url
        settings = probe.model_copy(update={"amojo_url": amojo_url})
        container = Container(settings)
        bridge_server.set_app(create_app(container))
        await stack.enter_async_context(bridge_server)
        yield SandboxBridge(
            settings,
            container,
            telegram,
            amojo,
            telegram_server.url,
            amojo_server.url,
            bridge_server.url,
            proxy,
        )


class Transcript:
    def __init__(self, console: Console) -> None:
        self._console = console
        self._start = time.perf_counter()
        self._mark = self._start

    def line(self, who: str, text: str, style: str = "") -> None:
        now = time.perf_counter()
        stamp = (
            f"+{(now - self._start) * 1000:7.1f} ms  (step {(now - self._mark) * 1000:6.1f} ms)"
        )
        self._mark = now
        label = f"[{style}]{who:<22}[/{style}]" if style else f"{who:<22}"
        self._console.print(f"[dim]{stamp}[/dim]  {label} {text}", highlight=False)


async def run_sandbox(console: Console, *, messages: int = 2) -> int:
    """Play the conversation; 0 when every step was seen on the far side."""
    customer_texts = ["Hello! Do you deliver on Sundays?", "And is there a pickup point downtown?"]
    customer_texts += [f"Message {n}" for n in range(3, messages + 1)]
    with tempfile.TemporaryDirectory(prefix="amo-bridge-sandbox-") as tmp:
        async with running_bridge(Path(tmp)) as sandbox:
            telegram, amojo = sandbox.telegram, sandbox.amojo
            console.print(
                f"[bold]amo-chat-bridge sandbox[/bold]  bridge {sandbox.bridge_url}  "
                f"Chats API emulator {sandbox.amojo_url}  Bot API emulator {sandbox.telegram_url}",
                highlight=False,
            )
            telegram.add_bot(SANDBOX_TOKEN, "amo_sandbox_bot", "Sandbox Shop")
            telegram.add_user(1001, "Anna", "Petrova", "anna_p")
            log = Transcript(console)
            row = await sandbox.container.accounts.connect(
                SANDBOX_ACCOUNT, SANDBOX_TOKEN, "Sandbox shop"
            )
            log.line(
                "admin", f"connected @{row.external_account_name} → scope {row.scope_id}", "cyan"
            )
            for number, text in enumerate(customer_texts[:messages], start=1):
                telegram.user_sends_text(SANDBOX_TOKEN, 1001, text)
                log.line("customer (Telegram)", text, "green")
                await amojo.wait_for(lambda n=number: len(amojo.messages) >= n, timeout=15)
                received = amojo.messages[-1]
                log.line(
                    "amoCRM chat",
                    f"received {received.payload['message']['text']!r} "
                    f"from {received.payload['sender']['name']}",
                    "magenta",
                )
            conversation_id = amojo.messages[-1].conversation_id
            reply = await amojo.send_operator_message(
                row.scope_id,
                conversation_id,
                "Yes, we deliver every day from 9 to 21. Anything else?",
            )
            log.line(
                "operator (amoCRM)",
                f"replied; the bridge acknowledged with HTTP {reply.status}",
                "yellow",
            )
            await telegram.wait_for(lambda: len(telegram.sent_to(1001)) >= 1, timeout=15)
            log.line(
                "customer (Telegram)",
                f"got {telegram.sent_to(1001)[-1].params['text']!r}",
                "green",
            )
            await amojo.wait_for(lambda: len(amojo.delivery_statuses) >= 1, timeout=15)
            status = amojo.delivery_statuses[-1].body
            log.line(
                "amoCRM chat",
                f"delivery status {status['delivery_status']} (delivered)",
                "magenta",
            )
            rows = await sandbox.container.accounts.status()
            for state in rows:
                console.print(
                    f"status: {state.bot} in={state.messages_in} out={state.messages_out} "
                    f"queued={state.queued} failed={state.failed}",
                    highlight=False,
                )
    console.print("[bold green]sandbox conversation complete[/bold green]")
    return 0
