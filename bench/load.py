"""The workloads: the bare ceiling loop, inbound and outbound bursts, and the idle probes.

Every workload returns a ``Measure``; it never judges speed. It does judge completeness: a
message that arrives twice is recorded in ``Measure.problems``, one that has not arrived when
the phase's time is up in ``Measure.missing`` (the run looks again at its very end: late, or
lost).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from bench.emulators import Emulators, Stream
from bench.rawhttp import RawLane
from bridge.amojo import signing

SETTLE_TIMEOUT_PER_MESSAGE = 0.1  # s; on top of a fixed 60 s: what "never arrived" means


@dataclass
class Missing:
    """Keys that had not arrived when a phase's time ran out: late, or lost."""

    stream: Stream
    keys: list[str]
    what: str


@dataclass
class Measure:
    count: int = 0
    seconds: float = 0.0  # first injection → last completion
    latencies: list[float] = field(default_factory=list)  # s, per message
    acks: list[float] = field(default_factory=list)  # s, per hook
    e2e: list[float] = field(default_factory=list)  # s, injection → arrival (idle probes)
    problems: list[str] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 of 100 values is the 99th)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


async def run_concurrently(
    count: int, concurrency: int, one: Callable[[int], Awaitable[None]]
) -> None:
    """``one(i)`` for i in range(count), ``concurrency`` at a time, in order of i."""
    counter = iter(range(count))

    async def lane() -> None:
        for index in counter:
            await one(index)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


# -- ceiling ---------------------------------------------------------------------------------


async def ceiling(
    emulators: Emulators, scope_id: str, count: int, concurrency: int, tag: str
) -> Measure:
    """Signed new_message calls straight to the Chats API emulator: one relay leg, bare."""
    path = f"/v2/origin/custom/{scope_id}"
    secret = emulators.channel_secret
    measure = Measure(count=count)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=emulators.amojo_url, limits=limits, trust_env=False, timeout=30.0
    ) as client:

        async def one(index: int) -> None:
            user = f"ceiling-{tag}-{index % concurrency}"
            now = time.time()
            payload = {
                "event_type": "new_message",
                "payload": {
                    "timestamp": int(now),
                    "msec_timestamp": int(now * 1000),
                    "msgid": f"ceiling-{tag}-{index}",
                    "conversation_id": user,
                    "silent": False,
                    "sender": {"id": user, "name": "Ceiling"},
                    "message": {"type": "text", "text": f"ceiling {tag} {index}"},
                },
            }
            body = json.dumps(payload, separators=(",", ":")).encode()
            headers = signing.request_signature_headers(
                secret, "POST", path, body, datetime.now(UTC)
            )
            started = time.monotonic()
            answer = await client.post(path, content=body, headers=headers)
            measure.latencies.append(time.monotonic() - started)
            if answer.status_code != 200:
                measure.problems.append(f"ceiling call {index}: HTTP {answer.status_code}")

        started = time.monotonic()
        await run_concurrently(count, concurrency, one)
        measure.seconds = time.monotonic() - started
    return measure


# -- waiting for arrivals ----------------------------------------------------------------------


async def settle(waits: list[tuple[Stream, list[str]]], within: float) -> None:
    """Pull each stream until all its keys arrived, or ``within`` seconds passed; every
    stream is pulled at least once, so what came meanwhile is seen."""
    deadline = time.monotonic() + within
    while True:
        pending = [(s, keys) for s, keys in waits if s.count(keys) < len(keys)]
        left = deadline - time.monotonic()
        if not pending or left <= 0:
            break
        # a long poll on the first unfinished stream, then a plain read of the others
        await pending[0][0].pull(wait=min(1.0, max(0.01, left)))
        for other, _ in pending[1:]:
            await other.pull()


def check_once(stream: Stream, keys: list[str], what: str, measure: Measure) -> list[float]:
    """The arrival time of each key (last column of a row); doubled ones are problems, the
    ones not (yet) arrived are kept in ``measure.missing`` for a last look at the end."""
    times: list[float] = []
    missing = [k for k in keys if k not in stream.by_key]
    doubled = [k for k in keys if len(stream.by_key.get(k, ())) > 1]
    if missing:
        measure.missing.append(Missing(stream, missing, what))
    if doubled:
        measure.problems.append(f"{what}: {len(doubled)} came more than once: {doubled[:5]}")
    for key in keys:
        rows = stream.by_key.get(key)
        if rows:
            times.append(float(rows[0][-1]))
    return times


def _timeout(count: int) -> float:
    return 60.0 + count * SETTLE_TIMEOUT_PER_MESSAGE


# -- inbound ---------------------------------------------------------------------------------


async def inbound_burst(
    emulators: Emulators, users: list[int], count: int, tag: str, cpu: Callable[[], object]
) -> Measure:
    """``count`` customer messages from ``users`` (round robin), all queued at once.

    Latency per message: from when Telegram handed the update to the bridge (getUpdates
    answer or webhook POST) to when the Chats API emulator accepted it.
    """
    texts = [f"bench {tag} {i}" for i in range(count)]
    messages = [(users[i % len(users)], texts[i]) for i in range(count)]
    measure = Measure(count=count)
    update_ids, queued_at = await emulators.users_send(messages)
    await settle([(emulators.arrivals, texts)], _timeout(count))
    cpu()
    arrivals = check_once(emulators.arrivals, texts, f"inbound {tag}", measure)
    handed = await emulators.handed(min(update_ids))
    for text, update_id in zip(texts, update_ids, strict=True):
        rows = emulators.arrivals.by_key.get(text)
        if rows and update_id in handed:
            measure.latencies.append(float(rows[0][-1]) - handed[update_id])
    measure.seconds = (max(arrivals) - queued_at) if arrivals else 0.0
    return measure


async def inbound_idle(emulators: Emulators, user: int, count: int, tag: str) -> Measure:
    """Single messages, each once the previous arrived and the bridge had a moment to idle."""
    measure = Measure(count=count)
    for i in range(count):
        await asyncio.sleep(0.05)
        text = f"idle {tag} {i}"
        (update_id,), queued_at = await emulators.users_send([(user, text)])
        await settle([(emulators.arrivals, [text])], 30.0)
        arrived = check_once(emulators.arrivals, [text], f"idle inbound {tag}", measure)
        handed = await emulators.handed(update_id)
        if arrived and update_id in handed:
            measure.latencies.append(arrived[0] - handed[update_id])
            measure.e2e.append(arrived[0] - queued_at)
    measure.seconds = sum(measure.e2e)
    return measure


# -- outbound ----------------------------------------------------------------------------------


async def post_hooks(
    bridge_url: str,
    emulators: Emulators,
    scope_id: str,
    hooks: list[tuple[str, bytes]],
    concurrency: int,
    measure: Measure,
) -> dict[str, float]:
    """POST signed hooks as amoCRM does, ``concurrency`` at a time; when each was posted."""
    posted: dict[str, float] = {}
    path = f"/amojo/webhook/{scope_id}"
    signed = [
        (
            message_id,
            body,
            {
                "Content-Type": "application/json",
                "X-Signature": signing.sign_hook(emulators.channel_secret, body),
            },
        )
        for message_id, body in hooks
    ]
    lanes = [RawLane(bridge_url) for _ in range(concurrency)]
    free_lanes = list(lanes)

    async def one(index: int) -> None:
        message_id, body, headers = signed[index]
        lane = free_lanes.pop()
        started = time.monotonic()
        posted[message_id] = started
        try:
            # amoCRM waits 5 s for the answer and never sends a hook again
            status = await asyncio.wait_for(lane.post(path, body, headers), 5.0)
        except (OSError, TimeoutError, ValueError) as error:
            measure.problems.append(f"hook {message_id}: no answer ({error!r}): LOST")
            await lane.close()
            return
        finally:
            free_lanes.append(lane)
        measure.acks.append(time.monotonic() - started)
        if status != 200:
            measure.problems.append(f"hook {message_id}: HTTP {status}: LOST")

    try:
        await run_concurrently(len(hooks), concurrency, one)
    finally:
        for lane in lanes:
            await lane.close()
    return posted


async def outbound_burst(
    bridge_url: str,
    emulators: Emulators,
    scope_id: str,
    conversations: list[str],
    count: int,
    concurrency: int,
    tag: str,
    cpu: Callable[[], object],
) -> Measure:
    """``count`` operator hooks over ``conversations``: acked, sent to Telegram, reported.

    Latency per message: hook posted → the Telegram emulator recorded the send.
    """
    texts = [f"operator {tag} {i}" for i in range(count)]
    pairs = [(conversations[i % len(conversations)], texts[i]) for i in range(count)]
    hooks = await emulators.operator_hooks(scope_id, pairs)
    measure = Measure(count=count)
    started = time.monotonic()
    posted = await post_hooks(bridge_url, emulators, scope_id, hooks, concurrency, measure)
    ids = [message_id for message_id, _ in hooks]
    await settle([(emulators.sent, texts), (emulators.statuses, ids)], _timeout(count))
    cpu()
    sent = check_once(emulators.sent, texts, f"outbound {tag} sends", measure)
    reported = check_once(emulators.statuses, ids, f"outbound {tag} delivery statuses", measure)
    bad = [i for i in ids if any(r[1] != 1 for r in emulators.statuses.by_key.get(i, ()))]
    if bad:
        measure.problems.append(f"outbound {tag}: {len(bad)} reported as not delivered")
    for (message_id, _), text in zip(hooks, texts, strict=True):
        rows = emulators.sent.by_key.get(text)
        if rows:
            measure.latencies.append(float(rows[0][-1]) - posted[message_id])
    measure.seconds = max([*sent, *reported], default=started) - started
    return measure


async def outbound_idle(
    bridge_url: str, emulators: Emulators, scope_id: str, conversation: str, count: int, tag: str
) -> Measure:
    measure = Measure(count=count)
    for i in range(count):
        await asyncio.sleep(0.05)
        text = f"idle operator {tag} {i}"
        hooks = await emulators.operator_hooks(scope_id, [(conversation, text)])
        posted = await post_hooks(bridge_url, emulators, scope_id, hooks, 1, measure)
        await settle([(emulators.sent, [text]), (emulators.statuses, [hooks[0][0]])], 30.0)
        sent = check_once(emulators.sent, [text], f"idle outbound {tag}", measure)
        check_once(emulators.statuses, [hooks[0][0]], f"idle outbound {tag} status", measure)
        if sent:
            measure.latencies.append(sent[0] - posted[hooks[0][0]])
    measure.seconds = sum(measure.latencies)
    return measure
