"""The benchmark's machinery: emulators, fresh databases, bridges, meters, the final checks.

``Harness`` starts and stops processes and measures phases; the scenarios themselves are in
``bench.run``. Every bridge gets a warm-up message each way first, and after it stops, its
store is checked for jobs that did not succeed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import load
from bench.config import USERS_PER_SCENARIO, WARM_UP_USER_BASE, choose_sizes
from bench.emulators import Emulators
from bench.load import Measure, Missing
from bench.procs import CpuMeter, free_port
from bench.report import Row
from bench.seed import Databases, Preload
from bench.serve import Bridge, BridgeSetup
from bridge.crypto import generate_key


@dataclass
class Options:
    quick: bool = False
    messages: int | None = None
    users: int | None = None
    workers: int | None = None
    database_url: str | None = None
    json_path: Path | None = None
    markdown_path: Path | None = None
    profile_dir: Path | None = None
    keep: bool = False
    # which scenarios run after the ceiling; all of them unless narrowed (to iterate on one)
    phases: tuple[str, ...] = ("polling", "webhook", "memory", "growth")


class Harness:
    """What every scenario stands on: emulators, fresh databases, bridge processes, meters,
    and the checks that nothing was lost."""

    def __init__(self, options: Options, console: Console) -> None:
        self.options = options
        self.console = console
        self.sizes = choose_sizes(options.quick, options.messages, options.users)
        self.workdir = Path(tempfile.mkdtemp(prefix="amo-bench-"))
        self.emulators = Emulators(self.workdir, free_port())
        self.databases = Databases(options.database_url, self.workdir)
        self.rows: dict[str, Row] = {}
        self.problems: list[str] = []
        self.missing: list[Missing] = []  # not arrived in a phase's time: looked at again
        self.facts: dict[str, str] = {}  # things the footnotes report
        self.peaks: dict[str, float] = {}
        self._scenario = 0
        self._warm_ups = 0
        self.key = generate_key()
        self.started = time.monotonic()
        self.scope_id = ""

    def say(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        self.console.print(f"[dim]{elapsed:6.1f}s · {message}[/dim]", highlight=False)

    def users(self, count: int) -> list[int]:
        """Fresh customers: a user id range no earlier scenario used."""
        self._scenario += 1
        base = USERS_PER_SCENARIO * self._scenario
        return [base + i for i in range(count)]

    def collect(self, measure: Measure) -> None:
        self.problems.extend(measure.problems)
        self.missing.extend(measure.missing)

    # -- databases and bridges ---------------------------------------------------------------

    async def database(self, name: str, conversations: int = 0, messages: int = 0) -> str:
        url = await self.databases.fresh(name)
        if conversations:
            probe = Bridge(
                self.emulators, BridgeSetup(url, False, None), self.workdir, name, self.key
            )
            scope_id, connection_id = await probe.connect()
            started = time.monotonic()
            await self.databases.preload(
                url, Preload(connection_id, scope_id, conversations, messages)
            )
            took = time.monotonic() - started
            self.facts[f"preload {name}"] = (
                f"{conversations:,} conversations, {messages:,} messages "
                f"(+{messages + messages // 2:,} finished jobs) in {took:.0f} s"
            )
            self.say(f"preloaded {name} in {took:.1f} s")
        return url

    @asynccontextmanager
    async def bridge(self, name: str, url: str, *, webhook: bool) -> AsyncIterator[Bridge]:
        setup = BridgeSetup(url, webhook, self.options.workers)
        bridge = Bridge(self.emulators, setup, self.workdir, name, self.key)
        await bridge.connect()
        self.say(f"starting bridge {name}")
        try:
            await bridge.start()
            self.say(f"bridge {name} receiving")
            await self.warm_up(bridge)
            self.say(f"bridge {name} warmed up")
            yield bridge
        finally:
            self.peaks[name] = bridge.peak_rss_mb()
            self.say(f"stopping bridge {name}")
            code = await bridge.stop()
            self.say(f"bridge {name} stopped")
            if code != 0:
                self.problems.append(
                    f"bridge {name} exited with {code} on SIGTERM:\n"
                    + (bridge.child.log_tail() if bridge.child else "")
                )
            await self.check_jobs(name, url)

    async def warm_up(self, bridge: Bridge) -> None:
        """One message each way first: connection pools and lazy imports are not the subject."""
        self._warm_ups += 1
        user, tag = WARM_UP_USER_BASE + self._warm_ups, f"warm-{bridge.name}"
        inbound = await load.inbound_burst(self.emulators, [user], 1, tag, no_cpu)
        self.collect(inbound)
        conversations = conversations_of(self.emulators, tag, 1)
        if conversations:
            outbound = await load.outbound_burst(
                bridge.url, self.emulators, self.scope_id, conversations, 1, 1, tag, no_cpu
            )
            self.collect(outbound)

    async def check_jobs(self, name: str, url: str) -> None:
        """After a clean stop every job has succeeded; anything else is worth a look."""
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text(
                        "SELECT kind, status, count(*) FROM job WHERE status <> 'succeeded' "
                        "GROUP BY kind, status"
                    )
                )
                left = [f"{kind} {status}: {count}" for kind, status, count in rows]
        finally:
            await engine.dispose()
        if left:
            # todo/doing: still durable in the store (slow, not lost); failed: given up on
            self.problems.append(f"bridge {name}: jobs not succeeded at its stop: {left}")

    async def measured(
        self,
        bridge: Bridge,
        phase: str,
        work: Callable[[Callable[[], object]], Awaitable[Measure]],
    ) -> Measure:
        """Run one workload with the CPU meter (and py-spy, if asked) around it."""
        if self.options.profile_dir is not None:
            self.options.profile_dir.mkdir(parents=True, exist_ok=True)
            await bridge.profile(self.options.profile_dir / f"{phase}.txt")
        meter = CpuMeter({"bridge": bridge.pid, **self.emulators.pids()}).start()
        self.say(f"{phase}")
        measure = await work(meter.stop)
        if not meter.shares:
            meter.stop()
        measure.cpu = dict(meter.shares)
        await bridge.stop_profile()
        self.collect(measure)
        return measure

    # -- scenarios -----------------------------------------------------------------------------

    async def audit(self) -> None:
        """What the emulators saw over the whole run: refusals, repeats and messages that never
        arrived (not even after their phase's time ran out) are problems."""
        streams = {id(m.stream): m.stream for m in self.missing}
        for stream in streams.values():
            while await stream.pull():
                pass
        late = 0
        for item in self.missing:
            lost = [key for key in item.keys if key not in item.stream.by_key]
            late += len(item.keys) - len(lost)
            if lost:
                self.problems.append(f"{item.what}: {len(lost)} never arrived: {lost[:3]}")
        if late:
            self.facts["late"] = (
                f"{late} message(s) arrived only after their phase's time limit "
                "(slow, not lost: they are counted as missing in that row)"
            )
        amojo = await self.emulators.amojo_summary()
        if amojo.get("duplicates"):
            self.problems.append(
                f"Chats API emulator got {amojo['duplicates']} msgid(s) a second time"
            )
        rejected = await self.emulators.rejected()
        if rejected:
            self.problems.append(
                f"Chats API emulator refused {len(rejected)} request(s), e.g. {rejected[:3]}"
            )
        telegram = await self.emulators.telegram_summary()
        # A stopping poller drops its long poll and confirms its offset with a short one; the
        # emulator answers the dropped poll 409 before it notices the client left. Nobody
        # reads that answer, so it is not a problem; any other failed call is.
        failures = [
            f"{method} {status} {text!r} at +{at - self.started:.1f}s"
            for method, status, text, at in telegram["last_failures"]
            if not (method == "getUpdates" and status == 409)
        ]
        if failures or telegram["webhook_failures"]:
            self.problems.append(
                f"Telegram emulator: failed Bot API calls {failures}, "
                f"{telegram['webhook_failures']} failed webhook POST(s)"
            )
        if telegram["queued_updates"]:
            self.problems.append(
                f"Telegram emulator: {telegram['queued_updates']} update(s) never taken"
            )

    async def close(self) -> None:
        await self.emulators.stop()
        await self.databases.drop_all()
        if self.options.keep:
            self.say(f"kept logs and databases in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def no_cpu() -> None:
    """A CPU callback that measures nothing (warm-up work)."""


def conversations_of(emulators: Emulators, tag: str, count: int) -> list[str]:
    """The Chats API conversation ids of a burst's customers, first seen first."""
    seen: dict[str, None] = {}
    for i in range(count):
        for row in emulators.arrivals.by_key.get(f"bench {tag} {i}", ()):
            seen.setdefault(str(row[1]), None)
    return list(seen)
