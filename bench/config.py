"""Sizes, identities and production limits the benchmark lifts (and says that it lifts)."""

from __future__ import annotations

from dataclasses import dataclass, replace

TOKEN = "700000042:BENCH-emulator-only-token-0123456789"  # noqa: S105 (emulator only)
BOT_USERNAME = "bench_bot"
ACCOUNT = "7d1c0b2a-3e4f-4a5b-8c6d-9e0f1a2b3c4d"

# The bridge throttles per Telegram chat (1/s, burst 3), per bot (30/s) and the Chats API
# (50/s) on purpose, to stay under the real services' limits. A throughput run that kept them
# would measure the limits, not the bridge; these lift them far above anything reached here.
UNLIMITED_RATE = "100000"
LIFTED_LIMITS = {
    "BRIDGE_TELEGRAM_CHAT_RATE": UNLIMITED_RATE,
    "BRIDGE_TELEGRAM_CHAT_BURST": UNLIMITED_RATE,
    "BRIDGE_TELEGRAM_BOT_RATE": UNLIMITED_RATE,
    "BRIDGE_AMOJO_RATE": UNLIMITED_RATE,
}

DEFAULT_WORKERS = 8  # BRIDGE_WORKER_CONCURRENCY's default

# User id ranges, one per scenario, so no scenario sees another's conversations; preloaded
# conversations use their own range.
USERS_PER_SCENARIO = 1_000_000
PRELOAD_USER_BASE = 900_000_000
WARM_UP_USER_BASE = 800_000_000


@dataclass(frozen=True)
class Sizes:
    messages: int  # N: messages per inbound burst, hooks per outbound burst
    users: int  # U: distinct customers, and the concurrency of the ceiling and of the hooks
    idle_probes: int  # single messages, one at a time, for the idle latency
    growth_messages: int  # messages already in the store for the growth rows
    growth_conversations: int  # the conversations they belong to (the memory row's too)
    memory_touch: int  # of those, how many write (and get an answer) before RSS is read
    growth_webhook: bool = True  # growth in webhook mode too (one more bridge start, ~5 s)
    memory_apart: bool = True  # memory in its own store, else in the growth one (no start)


FULL = Sizes(
    messages=1000,
    users=50,
    idle_probes=30,
    growth_messages=1_000_000,
    growth_conversations=10_000,
    memory_touch=1000,
)
# Small enough to finish in under a minute on 2 cores, big enough to run every code path.
QUICK = Sizes(
    messages=100,
    users=10,
    idle_probes=5,
    growth_messages=20_000,
    growth_conversations=10_000,
    memory_touch=100,
    growth_webhook=False,
    memory_apart=False,
)


def choose_sizes(quick: bool, messages: int | None, users: int | None) -> Sizes:
    sizes = QUICK if quick else FULL
    if messages is not None:
        sizes = replace(sizes, messages=messages)
    if users is not None:
        sizes = replace(sizes, users=users)
    return sizes
