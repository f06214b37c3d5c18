"""The benchmark run: the scenarios in order, every row of the table measured in this one run.

1. ceiling: the bare loop against the Chats API emulator;
2. empty store, polling: inbound burst, outbound burst, idle probes both ways;
3. empty store, webhook: inbound burst, idle probe;
4. memory: 10,000 conversations in the store, a short workload over them, the peak RSS (in
   ``--quick`` measured in the growth bridge instead, which knows as many: one start fewer);
5. growth: the same 10,000 conversations with ``growth_messages`` already stored; the bursts
   again, polling then webhook.
"""

from __future__ import annotations

from collections.abc import Callable

from bench import load
from bench.config import ACCOUNT, DEFAULT_WORKERS
from bench.harness import Harness, Options, conversations_of, no_cpu
from bench.load import Measure
from bench.procs import CpuMeter, import_floor_mb
from bench.report import Row
from bench.seed import Preload
from bench.serve import Bridge

__all__ = ["Bench", "Options"]


class Bench(Harness):
    async def run(self) -> None:
        await self.emulators.start()
        await self.ceiling()
        phases = self.options.phases
        if "polling" in phases:
            await self.empty_store(webhook=False)
        if "webhook" in phases:
            await self.empty_store(webhook=True)
        if "memory" in phases and self.sizes.memory_apart:
            await self.memory()
        if "growth" in phases:
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
        self.collect(measure)
        self.rows["ceiling"] = Row("ceiling", f"new_message ×{sizes.users}", measure)
        # httpx's pool costs more per request the more requests share it: the same loop at
        # the bridge's worker count shows what one leg does with the bridge's concurrency
        workers = self.options.workers or DEFAULT_WORKERS
        meter = CpuMeter(self.emulators.pids()).start()
        narrow = await load.ceiling(self.emulators, self.scope_id, sizes.messages, workers, "w")
        narrow.cpu = meter.stop()
        self.collect(narrow)
        self.rows["ceiling workers"] = Row("ceiling", f"new_message ×{workers} (workers)", narrow)
        self.facts["ceiling at worker concurrency"] = f"{narrow.rate:.0f} msg/s at {workers}"

    @property
    def ceiling_rate(self) -> float:
        measure = self.rows["ceiling"].measure
        return measure.rate if measure else 0.0

    def throughput_row(self, key: str, name: str, mode: str, measure: Measure) -> Row:
        ratio = measure.rate / self.ceiling_rate if self.ceiling_rate else None
        row = Row(name, mode, measure, ratio)
        late = sum(len(m.keys) for m in measure.missing)
        if late:
            row.result = f"{late} not done within the time limit;"
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
        conversations = conversations_of(emulators, tag, sizes.messages)
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
            self.collect(idle)
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
                self.collect(idle_out)
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
            if not sizes.memory_apart:
                await self.memory_row(bridge, known, f"{known:,} conversations, {label}")
        self._growth_row("growth inbound polling", f"inbound polling, {label}", inbound)
        assert outbound is not None
        self._growth_row("growth outbound", f"outbound, {label}", outbound)
        if not sizes.growth_webhook:
            return
        async with self.bridge("growth-webhook", url, webhook=True) as bridge:
            inbound, _, _ = await self.bursts(bridge, "growth", outbound=False)
        self._growth_row("growth inbound webhook", f"inbound webhook, {label}", inbound)

    async def memory(self) -> None:
        """10,000 conversations in an otherwise empty store (the full run: the growth store
        is slow enough to make the workload take minutes)."""
        known = self.sizes.growth_conversations
        url = await self.database("memory", conversations=known)
        async with self.bridge("memory", url, webhook=False) as bridge:
            await self.memory_row(bridge, known, f"{known:,} conversations")

    async def memory_row(self, bridge: Bridge, known: int, mode: str) -> None:
        at_start = bridge.started_rss_mb
        measure = await self.measured(bridge, "memory", lambda cpu: self.touch(bridge, known, cpu))
        peak = bridge.peak_rss_mb()
        row = Row("memory", mode)
        row.result = f"peak RSS {peak:.0f} MB (after start {at_start:.0f} MB)"
        if measure.missing:
            row.result += f"; {sum(len(m.keys) for m in measure.missing)} not done in time"
        row.target = _verdict(peak <= 120, "≤ 120 MB")
        floor = await import_floor_mb()
        self.facts["import floor"] = (
            f"a fresh interpreter that only imports the modules `serve` runs on (FastAPI, "
            f"SQLAlchemy/SQLModel, pydantic-settings, aiogram, aiohttp, httpx, uvicorn, "
            f"cryptography) holds {floor:.0f} MB before it does anything"
        )
        row.values = {
            "peak_rss_mb": peak,
            "rss_after_start_mb": at_start,
            "import_floor_mb": floor,
        }
        self.rows["memory"] = row

    async def touch(self, bridge: Bridge, known: int, cpu: Callable[[], object]) -> Measure:
        """One message in and one answer out for conversations spread over the whole store."""
        sizes, emulators = self.sizes, self.emulators
        preloaded = Preload("", "", known, 0)
        step = max(1, known // sizes.memory_touch)
        users = [preloaded.chat(i) for i in range(0, known, step)][: sizes.memory_touch]
        inbound = await load.inbound_burst(emulators, users, len(users), "memory", no_cpu)
        conversations = conversations_of(emulators, "memory", len(users))
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
        outbound.missing += inbound.missing
        return outbound

    def _growth_row(self, key: str, mode: str, measure: Measure) -> None:
        base_key = key.removeprefix("growth ")
        base = self.rows[base_key].measure if base_key in self.rows else None
        row = self.throughput_row(key, "growth", mode, measure)
        if base is not None and base.seconds > 0:
            slower = measure.seconds / base.seconds
            row.result = f"{row.result} {slower:.2f}× the empty store's time".strip()
            row.target = _verdict(slower <= 1.2, "≤ 1.2×")
            row.values = {"slowdown": slower}


def _verdict(ok: bool, target: str) -> str:
    return f"{target} {'✓' if ok else '✗'}"


def _idle_row(mode: str, measure: Measure) -> Row:
    p50 = load.percentile(measure.latencies, 0.5)
    row = Row("idle", mode, measure, target=_verdict(p50 <= 0.005, "added p50 ≤ 5 ms"))
    if measure.e2e:
        row.result = f"end to end p50 {load.percentile(measure.e2e, 0.5) * 1000:.1f} ms"
    measure.seconds = 0.0  # one at a time: a rate would mean nothing
    return row
