"""Both emulators in their own processes, and thin clients of their ``/__emulator__/`` routes.

Each emulator runs under uvicorn (uvloop + httptools when installed) in its own interpreter,
so its work never shares the bridge's event loop; the benchmark checks their CPU too.
"""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.config import BOT_USERNAME, TOKEN
from bench.procs import Child, child_env, free_port, spawn, wait_http

CONTROL_TIMEOUT = 60.0


@dataclass
class Stream:
    """An append-only list in an emulator, read incrementally and indexed by a key column."""

    client: httpx.AsyncClient
    path: str
    field_name: str
    key: int  # which column of a row is its key (a message's text, a status's message id)
    since: int = 0
    by_key: dict[str, list[list[Any]]] = field(default_factory=lambda: defaultdict(list))

    async def pull(self, wait: float = 0.0) -> int:
        """Fetch what is new (waiting up to ``wait`` s for something); how many rows came."""
        answer = await self.client.get(self.path, params={"since": self.since, "wait": wait})
        answer.raise_for_status()
        data = answer.json()
        for row in data[self.field_name]:
            self.by_key[str(row[self.key])].append(row)
        self.since = int(data["next"])
        return len(data[self.field_name])

    def count(self, keys: list[str]) -> int:
        return sum(1 for key in keys if key in self.by_key)


class Emulators:
    """The Chats API emulator and the Telegram emulator, started by ``start``."""

    def __init__(self, workdir: Path, bridge_port: int) -> None:
        self.workdir = workdir
        self.channel_id = str(uuid.uuid4())
        self.channel_secret = secrets.token_hex(20)
        self.amojo_port, self.telegram_port = free_port(), free_port()
        self.amojo_url = f"http://127.0.0.1:{self.amojo_port}"
        self.telegram_url = f"http://127.0.0.1:{self.telegram_port}"
        self.bridge_port = bridge_port
        self.amojo: Child | None = None
        self.telegram: Child | None = None
        # Control traffic only; generous pool so a waiting long poll never blocks another call.
        self.http = httpx.AsyncClient(
            timeout=CONTROL_TIMEOUT,
            trust_env=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=20),
        )
        self.arrivals = Stream(self.http, f"{self.amojo_url}/__emulator__/arrivals", "messages", 0)
        self.statuses = Stream(
            self.http, f"{self.amojo_url}/__emulator__/delivery_statuses", "statuses", 0
        )
        self.sent = Stream(self.http, f"{self.telegram_url}/__emulator__/sent", "sent", 1)

    async def start(self) -> None:
        env = child_env()
        hook_url = f"http://127.0.0.1:{self.bridge_port}/amojo/webhook/:scope_id"
        self.amojo = await spawn(
            "amojo-emulator",
            [
                "-m",
                "emulators.amojo",
                "--port",
                str(self.amojo_port),
                "--channel-id",
                self.channel_id,
                "--channel-secret",
                self.channel_secret,
                "--hook-url-template",
                hook_url,
            ],
            env=env,
            cwd=self.workdir,
            log_dir=self.workdir,
        )
        self.telegram = await spawn(
            "telegram-emulator",
            [
                "-m",
                "emulators.telegram",
                "--port",
                str(self.telegram_port),
                "--bot",
                f"{TOKEN}:{BOT_USERNAME}",
                "--webhook-parallel",
            ],
            env=env,
            cwd=self.workdir,
            log_dir=self.workdir,
        )
        await wait_http(f"{self.amojo_url}/__emulator__/summary", self.amojo)
        await wait_http(f"{self.telegram_url}/__emulator__/summary", self.telegram)

    async def stop(self) -> None:
        await self.http.aclose()
        for child in (self.amojo, self.telegram):
            if child is not None:
                await child.stop(5.0)

    def pids(self) -> dict[str, int]:
        assert self.amojo is not None and self.telegram is not None
        return {"amojo": self.amojo.pid, "telegram": self.telegram.pid}

    # -- Telegram side ---------------------------------------------------------------------

    async def users_send(self, messages: list[tuple[int, str]]) -> tuple[list[int], float]:
        """Customers write; (update ids, monotonic time all were queued at Telegram)."""
        body = {"token": TOKEN, "messages": [{"user_id": u, "text": t} for u, t in messages]}
        answer = await self.http.post(f"{self.telegram_url}/__emulator__/users_send", json=body)
        answer.raise_for_status()
        data = answer.json()
        return [int(i) for i in data["update_ids"]], float(data["at"])

    async def handed(self, first_update: int) -> dict[int, float]:
        answer = await self.http.get(
            f"{self.telegram_url}/__emulator__/handed",
            params={"token": TOKEN, "first": first_update},
        )
        answer.raise_for_status()
        return {int(u): float(at) for u, at in answer.json()["handed"]}

    async def telegram_summary(self) -> dict[str, Any]:
        answer = await self.http.get(f"{self.telegram_url}/__emulator__/summary")
        answer.raise_for_status()
        return dict(answer.json())

    # -- Chats API side --------------------------------------------------------------------

    async def amojo_summary(self) -> dict[str, int]:
        answer = await self.http.get(f"{self.amojo_url}/__emulator__/summary")
        answer.raise_for_status()
        return dict(answer.json())

    async def rejected(self, since: int = 0) -> list[list[Any]]:
        answer = await self.http.get(
            f"{self.amojo_url}/__emulator__/rejected", params={"since": since}
        )
        answer.raise_for_status()
        return list(answer.json()["rejected"])

    async def operator_hooks(
        self, scope_id: str, messages: list[tuple[str, str]]
    ) -> list[tuple[str, bytes]]:
        """Operator messages (conversation id, text) made in the emulator; their hook bodies."""
        body = {
            "scope_id": scope_id,
            "messages": [{"conversation_id": c, "text": t} for c, t in messages],
        }
        answer = await self.http.post(f"{self.amojo_url}/__emulator__/operator_hooks", json=body)
        answer.raise_for_status()
        return [(str(i), str(b).encode()) for i, b in answer.json()["hooks"]]
