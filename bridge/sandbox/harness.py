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

import httpx
from rich.console import Console

from bridge.accounts import StatusRow
from bridge.container import Container
from bridge.crypto import generate_key
from bridge.settings import Settings
from bridge.web.app import create_app
from emulators.amojo.app import AmojoEmulator
from emulators.fault_proxy import FaultProxy
from emulators.loopback import LoopbackServer
from emulators.samples import jpeg, ogg_opus
from emulators.telegram.app import TelegramEmulator
from emulators.telegram.records import SentMessage

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
        "allow_private_media_urls": True,  # the operators' files are served on loopback
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


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


SANDBOX_CUSTOMER = 1001
BUTTONS = {
    "mode": "inline",
    "buttons": [
        [{"text": "Order for Sunday"}, {"text": "Ask something else"}],
        [{"text": "Delivery zones", "url": "https://example.com/delivery"}],
    ],
}


class Conversation:
    """The scripted customer and operator; each step waits until the far side saw it."""

    def __init__(self, sandbox: SandboxBridge, log: Transcript, scope_id: str) -> None:
        self.telegram, self.amojo = sandbox.telegram, sandbox.amojo
        self.log = log
        self.scope_id = scope_id

    async def received(self) -> dict[str, Any]:
        """The next message amoCRM receives (the step before added exactly one)."""
        count = len(self.amojo.messages) + 1
        await self.amojo.wait_for(lambda: len(self.amojo.messages) >= count, timeout=15)
        received = self.amojo.messages[count - 1]
        self.log.line(
            "amoCRM chat",
            f"received {_describe(received.payload['message'])} "
            f"from {received.payload['sender']['name']}",
            "magenta",
        )
        return received.payload["message"]  # type: ignore[no-any-return]

    async def customer_text(self, text: str) -> int:
        sent = self.telegram.user_sends_text(SANDBOX_TOKEN, SANDBOX_CUSTOMER, text)
        self.log.line("customer (Telegram)", text, "green")
        await self.received()
        return int(sent["message_id"])

    async def customer_file(self, kind: str, content: bytes, mime: str, **extra: Any) -> None:
        """A photo or voice note; amoCRM downloads it through the bridge's /media link."""
        telegram = self.telegram
        record = telegram.add_file(SANDBOX_TOKEN, content, mime_type=mime)
        duration = {"duration": extra.pop("duration")} if "duration" in extra else None
        media = telegram.file_object(kind, record, duration)
        telegram.user_sends(SANDBOX_TOKEN, SANDBOX_CUSTOMER, **{kind: media}, **extra)
        self.log.line("customer (Telegram)", f"sends a {kind} ({len(content)} bytes)", "green")
        message = await self.received()
        async with httpx.AsyncClient(trust_env=False) as http:
            download = await http.get(message["media"])
        same = "identical" if download.content == content else "DIFFERENT"
        self.log.line(
            "amoCRM chat",
            f"downloaded it through {message['media'].split('/media/')[0]}/media/…: "
            f"{len(download.content)} bytes, {download.headers.get('content-type')}, {same}",
            "magenta",
        )
        if download.content != content:
            raise RuntimeError(f"the {kind} changed on its way to amoCRM")

    async def customer_edits(self, message_id: int, text: str) -> None:
        amojo = self.amojo
        count = len(amojo.edits) + 1
        self.telegram.user_edits(SANDBOX_TOKEN, SANDBOX_CUSTOMER, message_id, text)
        self.log.line("customer (Telegram)", f"edits their first message to {text!r}", "green")
        await amojo.wait_for(lambda: len(amojo.edits) >= count, timeout=15)
        edit = amojo.edits[count - 1]
        self.log.line(
            "amoCRM chat",
            f"message {edit.msgid} now reads {edit.payload['message']['text']!r}",
            "magenta",
        )

    async def operator_replies(self, conversation_id: str, text: str) -> SentMessage:
        """The operator answers with buttons; returns the answer as the customer got it."""
        telegram, amojo = self.telegram, self.amojo
        count = len(telegram.sent_to(SANDBOX_CUSTOMER)) + 1
        reply = await amojo.send_operator_message(
            self.scope_id, conversation_id, text, markup=BUTTONS
        )
        self.log.line(
            "operator (amoCRM)",
            f"replied with buttons; the bridge acknowledged with HTTP {reply.status}",
            "yellow",
        )
        await telegram.wait_for(lambda: len(telegram.sent_to(SANDBOX_CUSTOMER)) >= count, 15)
        got = telegram.sent_to(SANDBOX_CUSTOMER)[count - 1]
        rows = got.message.get("reply_markup", {}).get("inline_keyboard", [])
        keys = " ".join(f"[{b['text']}{' ↗' if 'url' in b else ''}]" for row in rows for b in row)
        self.log.line("customer (Telegram)", f"got {got.params['text']!r} {keys}", "green")
        await amojo.wait_for(
            lambda: any(s.amojo_msgid == reply.id for s in amojo.delivery_statuses), 15
        )
        status = next(s.body for s in amojo.delivery_statuses if s.amojo_msgid == reply.id)
        self.log.line(
            "amoCRM chat", f"delivery status {status['delivery_status']} (delivered)", "magenta"
        )
        return got

    async def customer_presses(self, answer: SentMessage, text: str) -> None:
        rows = answer.message["reply_markup"]["inline_keyboard"]
        data = next(b["callback_data"] for row in rows for b in row if b["text"] == text)
        self.telegram.user_presses_button(SANDBOX_TOKEN, SANDBOX_CUSTOMER, answer.message_id, data)
        self.log.line("customer (Telegram)", f"presses [{text}]", "green")
        await self.received()


async def _settled_status(sandbox: SandboxBridge) -> list[StatusRow]:
    """The status table once the last jobs (reports, the button press) have finished."""
    worker = sandbox.container.worker
    for _ in range(20):
        rows = await sandbox.container.accounts.status()
        if all(row.queued == 0 for row in rows):
            break
        done = worker.outcomes["succeeded"]

        def progressed(done: int = done) -> bool:
            return worker.outcomes["succeeded"] > done

        try:
            await worker.wait_until(progressed, 5)
        except TimeoutError:
            break  # something waits for a retry: show the table as it is
    return rows


def _describe(message: dict[str, Any]) -> str:
    if message["type"] == "text":
        return repr(message["text"])
    caption = f" {message['text']!r}" if message.get("text") else ""
    seconds = f", {message['media_duration']} s" if "media_duration" in message else ""
    return f"a {message['type']} {message.get('file_name', '')}{seconds}{caption}"


async def run_sandbox(console: Console, *, messages: int = 2, database: Path | None = None) -> int:
    """Play the conversation; 0 when every step was seen on the far side.

    ``database``: an absolute path to keep the sandbox's SQLite file at (for ``status``).
    """
    customer_texts = ["Hello! Do you deliver on Sundays?", "And is there a pickup point downtown?"]
    customer_texts += [f"Message {n}" for n in range(3, messages + 1)]
    with tempfile.TemporaryDirectory(prefix="amo-bridge-sandbox-") as tmp:
        overrides: dict[str, Any] = (
            {"database_url": f"sqlite+aiosqlite:///{database}"} if database else {}
        )
        async with running_bridge(Path(tmp), **overrides) as sandbox:
            telegram = sandbox.telegram
            console.print(
                f"[bold]amo-chat-bridge sandbox[/bold]  bridge {sandbox.bridge_url}  "
                f"Chats API emulator {sandbox.amojo_url}  Bot API emulator {sandbox.telegram_url}",
                highlight=False,
            )
            telegram.add_bot(SANDBOX_TOKEN, "amo_sandbox_bot", "Sandbox Shop")
            telegram.add_user(SANDBOX_CUSTOMER, "Anna", "Petrova", "anna_p")
            log = Transcript(console)
            row = await sandbox.container.accounts.connect(
                SANDBOX_ACCOUNT, SANDBOX_TOKEN, "Sandbox shop"
            )
            log.line(
                "admin", f"connected @{row.external_account_name} → scope {row.scope_id}", "cyan"
            )
            talk = Conversation(sandbox, log, row.scope_id)
            first = [await talk.customer_text(text) for text in customer_texts[:messages]][0]
            await talk.customer_file("photo", jpeg(), "image/jpeg", caption="Like this one?")
            await talk.customer_file("voice", ogg_opus(), "audio/ogg", duration=3)
            await talk.customer_edits(first, "Hello! Do you deliver on Sundays and holidays?")
            answer = await talk.operator_replies(
                sandbox.amojo.messages[-1].conversation_id,
                "Yes, we deliver every day from 9 to 21. Anything else?",
            )
            await talk.customer_presses(answer, "Order for Sunday")
            rows = await _settled_status(sandbox)
            for state in rows:
                console.print(
                    f"status: {state.bot} in={state.messages_in} out={state.messages_out} "
                    f"queued={state.queued} failed={state.failed}",
                    highlight=False,
                )
    console.print("[bold green]sandbox conversation complete[/bold green]")
    return 0
