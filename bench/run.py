"""The benchmark run: the scenarios in order, every row of the table measured in this one run.

1. ceiling: the bare loop against the Chats API emulator;
2. empty store, polling: inbound burst, outbound burst, idle probes both ways;
3. empty store, webhook: inbound burst, idle probe;
4. growth: 10,000 conversations and ``growth_messages`` already stored; the bursts again,
   polling then webhook; memory: in the polling one, after a short workload over those
   conversations, the peak RSS.
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
from bench.config import ACCOUNT, USERS_PER_SCENARIO, WARM_UP_USER_BASE, choose_sizes
from bench.emulators import Emulators
from bench.load import Measure
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
    profile_dir: Path | None = None
    keep: bool = False


class Bench:
    def __init__(self, options: Options, console: Console) -> None:
        self.options = options
        self.console = console
        self.sizes = choose_sizes(options.quick, options.messages, options.users)
        self.workdir = Path(tempfile.mkdtemp(prefix="amo-bench-"))
        self.emulators = Emulators(self.workdir, free_port())
        self.databases = Databases(options.database_url, self.workdir)
        self.rows: dict[str, Row] = {}
        self.problems: list[str] = []
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
        inbound = await load.inbound_burst(self.emulators, [user], 1, tag, _no)
        self.problems.extend(inbound.problems)
        conversations = _conversations(self.emulators, tag, 1)
        if conversations:
            outbound = await load.outbound_burst(
                bridge.url, self.emulators, self.scope_id, conversations, 1, 1, tag, _no
            )
            self.problems.extend(outbound.problems)

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
            self.problems.append(f"bridge {name}: jobs not succeeded after the run: {left}")

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
        self.problems.extend(measure.problems)
        return measure

    # -- scenarios -----------------------------------------------------------------------------

    async def run(self) -> None:
        await self.emulators.start()
        await self.ceiling()
        await self.empty_store(webhook=False)
        await self.empty_store(webhook=True)
        await self.growth()
        final = await load.ceiling(
            self.emulators, self.scope_id, self.sizes.messages, self.sizes.users, "end"
        )
        self.facts["ceiling at the end"] = f"{final.rate:.0f} msg/s"

    async def ceiling(self) -> None:
        from bridge.amojo import AmojoClient

        client = AmojoClient.create(
            self.emulators.amojo_url, self.emulators.channel_id, self.emulators.channel_secret
        )
        try:
            self.scope_id = str((await client.connect(ACCOUNT, "Bench"))["scope_id"])
        finally:
            await client.aclose()
        sizes = self.sizes
        await load.ceiling(self.emulators, self.scope_id, sizes.users * 2, sizes.users, "warm")
        bare = await load.ceiling(self.emulators, self.scope_id, 50, 1, "rtt")
        self.facts["bare round trip"] = f"{load.percentile(bare.latencies, 0.5) * 1000:.2f} ms"
        meter = CpuMeter(self.emulators.pids()).start()
        self.say("ceiling")
        measure = await load.ceiling(
            self.emulators, self.scope_id, sizes.messages, sizes.users, "run"
        )
        measure.cpu = meter.stop()
        self.problems.extend(measure.problems)
        self.rows["ceiling"] = Row("ceiling", f"new_message ×{sizes.users}", measure)

    @property
    def ceiling_rate(self) -> float:
        measure = self.rows["ceiling"].measure
        return measure.rate if measure else 0.0

    def throughput_row(self, key: str, name: str, mode: str, measure: Measure) -> Row:
        ratio = measure.rate / self.ceiling_rate if self.ceiling_rate else None
        row = Row(name, mode, measure, ratio)
        if ratio is not None:
            row.target = _verdict(ratio >= 0.6, "≥ 0.6× ceiling")
        self.rows[key] = row
        return row

    async def bursts(
        self, bridge: Bridge, prefix: str, *, outbound: bool
    ) -> tuple[Measure, Measure | None, list[str]]:
        sizes, emulators = self.sizes, self.emulators
        users = self.users(sizes.users)
        tag = f"{prefix}-{bridge.name}"
        inbound = await self.measured(
            bridge,
            f"{prefix}-inbound-{bridge.name}",
            lambda cpu: load.inbound_burst(emulators, users, sizes.messages, tag, cpu),
        )
        conversations = _conversations(emulators, tag, sizes.messages)
        if not outbound:
            return inbound, None, conversations
        out = await self.measured(
            bridge,
            f"{prefix}-outbound-{bridge.name}",
            lambda cpu: load.outbound_burst(
                bridge.url,
                emulators,
                self.scope_id,
                conversations,
                sizes.messages,
                sizes.users,
                tag,
                cpu,
            ),
        )
        return inbound, out, conversations

    async def empty_store(self, *, webhook: bool) -> None:
        mode = "webhook" if webhook else "polling"
        url = await self.database(f"empty-{mode}")
        sizes, emulators = self.sizes, self.emulators
        async with self.bridge(mode, url, webhook=webhook) as bridge:
            inbound, outbound, conversations = await self.bursts(
                bridge, "empty", outbound=not webhook
            )
            self.throughput_row(f"inbound {mode}", "inbound", mode, inbound)
            if outbound is not None:
                row = self.throughput_row(
                    "outbound", "outbound", f"hooks ×{sizes.users}", outbound
                )
                p99 = load.percentile(outbound.acks, 0.99)
                row.target += " " + _verdict(p99 <= 0.010, "ack p99 ≤ 10 ms")
            user = self.users(1)[0]
            idle = await load.inbound_idle(emulators, user, sizes.idle_probes, f"idle-{mode}")
            self.problems.extend(idle.problems)
            self.rows[f"idle inbound {mode}"] = _idle_row(f"inbound {mode}", idle)
            if not webhook and conversations:
                idle_out = await load.outbound_idle(
                    bridge.url,
                    emulators,
                    self.scope_id,
                    conversations[0],
                    sizes.idle_probes,
                    "idle",
                )
                self.problems.extend(idle_out.problems)
                self.rows["idle outbound"] = _idle_row("outbound", idle_out)

    async def growth(self) -> None:
        """The store of a bridge long in service; the memory row is measured here too, on the
        same ``growth_conversations`` (10,000) conversations: known to the store, and the
        ``memory_touch`` of them that write during the run known to the process as well."""
        sizes = self.sizes
        known, stored = sizes.growth_conversations, sizes.growth_messages
        url = await self.database("growth", conversations=known, messages=stored)
        label = f"{stored:,} stored"
        async with self.bridge("growth-polling", url, webhook=False) as bridge:
            inbound, outbound, _ = await self.bursts(bridge, "growth", outbound=True)
            at_start = bridge.started_rss_mb
            await self.measured(bridge, "memory", lambda cpu: self.touch(bridge, known, cpu))
            peak = bridge.peak_rss_mb()
        self._growth_row("growth inbound polling", f"inbound polling, {label}", inbound)
        assert outbound is not None
        self._growth_row("growth outbound", f"outbound, {label}", outbound)
        row = Row("memory", f"{known:,} conversations, {label}")
        row.result = f"peak RSS {peak:.0f} MB (after start {at_start:.0f} MB)"
        row.target = _verdict(peak <= 120, "≤ 120 MB")
        row.values = {"peak_rss_mb": peak, "rss_after_start_mb": at_start}
        self.rows["memory"] = row
        if not sizes.growth_webhook:
            return
        async with self.bridge("growth-webhook", url, webhook=True) as bridge:
            inbound, _, _ = await self.bursts(bridge, "growth", outbound=False)
        self._growth_row("growth inbound webhook", f"inbound webhook, {label}", inbound)

    async def touch(self, bridge: Bridge, known: int, cpu: Callable[[], object]) -> Measure:
        """One message in and one answer out for conversations spread over the whole store."""
        sizes, emulators = self.sizes, self.emulators
        preloaded = Preload("", "", known, 0)
        step = max(1, known // sizes.memory_touch)
        users = [preloaded.chat(i) for i in range(0, known, step)][: sizes.memory_touch]
        inbound = await load.inbound_burst(emulators, users, len(users), "memory", _no)
        conversations = _conversations(emulators, "memory", len(users))
        outbound = await load.outbound_burst(
            bridge.url,
            emulators,
            self.scope_id,
            conversations,
            len(conversations),
            sizes.users,
            "memory",
            cpu,
        )
        outbound.problems += inbound.problems
        return outbound

    def _growth_row(self, key: str, mode: str, measure: Measure) -> None:
        base_key = key.removeprefix("growth ")
        base = self.rows[base_key].measure
        row = self.throughput_row(key, "growth", mode, measure)
        if base is not None and base.seconds > 0:
            slower = measure.seconds / base.seconds
            row.result = f"{slower:.2f}× the empty store's time"
            row.target = _verdict(slower <= 1.2, "≤ 1.2×")
            row.values = {"slowdown": slower}

    async def audit(self) -> None:
        """What the emulators saw over the whole run: refusals and repeats are problems."""
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


def _no() -> None:
    """A CPU callback that measures nothing (warm-up work)."""


def _verdict(ok: bool, target: str) -> str:
    return f"{target} {'✓' if ok else '✗'}"


def _idle_row(mode: str, measure: Measure) -> Row:
    p50 = load.percentile(measure.latencies, 0.5)
    row = Row("idle", mode, measure, target=_verdict(p50 <= 0.005, "added p50 ≤ 5 ms"))
    if measure.e2e:
        row.result = f"end to end p50 {load.percentile(measure.e2e, 0.5) * 1000:.1f} ms"
    measure.seconds = 0.0  # one at a time: a rate would mean nothing
    return row


def _conversations(emulators: Emulators, tag: str, count: int) -> list[str]:
    """The Chats API conversation ids of a burst's customers, first seen first."""
    seen: dict[str, None] = {}
    for i in range(count):
        for row in emulators.arrivals.by_key.get(f"bench {tag} {i}", ()):
            seen.setdefault(str(row[1]), None)
    return list(seen)
