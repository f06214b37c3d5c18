"""``python -m bench [--quick]``: the benchmark of the bridge against its emulators.

Prints one table and its footnotes; ``--json PATH`` also writes them as JSON. The exit status
is 0 however fast or slow the bridge was, 1 when a message was lost or duplicated or a
process misbehaved (what went wrong is printed), 2 when the run itself could not be done.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from rich.console import Console

from bench import report
from bench.config import DEFAULT_WORKERS, LIFTED_LIMITS
from bench.run import Bench, Options

ORDER = ["ceiling", "inbound", "outbound", "idle", "memory", "growth"]


PHASES = Options.phases


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--messages", type=int, help="N: messages per burst")
    parser.add_argument("--users", type=int, help="U: distinct customers and concurrency")
    parser.add_argument(
        "--workers", type=int, help="BRIDGE_WORKER_CONCURRENCY (default: the bridge's)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to use instead of SQLite, e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test (fresh databases are created there "
        "and dropped)",
    )
    parser.add_argument("--json", type=Path, dest="json_path", help="also write results here")
    parser.add_argument(
        "--markdown", type=Path, dest="markdown_path", help="also write the table as Markdown"
    )
    parser.add_argument(
        "--profile", type=Path, dest="profile_dir", help="py-spy each phase into this folder"
    )
    parser.add_argument("--keep", action="store_true", help="keep logs and databases")
    parser.add_argument(
        "--phases",
        nargs="+",
        choices=PHASES,
        default=PHASES,
        help="run only these scenarios after the ceiling (default: all); growth compares "
        "with the empty-store rows of the same run, so it needs polling and webhook too",
    )
    args = parser.parse_args(argv)
    args.phases = tuple(args.phases)
    return Options(**vars(args))


def notes(bench: Bench) -> list[str]:
    sizes, facts = bench.sizes, bench.facts
    workers = bench.options.workers or f"{DEFAULT_WORKERS} (default)"
    emulator_peak = max(
        (
            share
            for row in bench.rows.values()
            if row.measure
            for name, share in row.measure.cpu.items()
            if name in ("amojo", "telegram")
        ),
        default=0.0,
    )
    others_peak = max(
        (row.measure.cpu.get("others", 0.0) for row in bench.rows.values() if row.measure),
        default=0.0,
    )
    lines = [
        f"Machine: {os.cpu_count()} cores shared by the bridge, both emulators and this driver; "
        f"store {bench.databases.kind}; bridge `python -m bridge serve`, worker concurrency "
        f"{workers}. Production rate limits lifted to {LIFTED_LIMITS['BRIDGE_AMOJO_RATE']}/s "
        "(per Telegram chat, per bot, Chats API) so the bridge is measured, not its throttles.",
        f"ceiling: this process (asyncio + httpx) sends {sizes.messages} signed new_message "
        f"calls straight to the Chats API emulator, {sizes.users} at a time; one at a time the "
        f"bare round trip is {facts.get('bare round trip', '?')} (p50). Ceiling at the end of "
        f"the run: {facts.get('ceiling at the end', '?')}. The second ceiling row is the same "
        "loop at the bridge's worker concurrency: httpx's pool costs more per request the more "
        "requests share it, so it is the higher one; × ceiling is against the first, as the "
        "issue defines it.",
        f"inbound: {sizes.messages} messages from {sizes.users} new customers queued at once in "
        "the Telegram emulator; time = queued → last accepted by the Chats API emulator; "
        "latency = update handed to the bridge (getUpdates answer or webhook POST) → accepted. "
        "Webhook: the emulator pushes like Telegram, chats in parallel (40 connections), each "
        "chat in order.",
        f"outbound: {sizes.messages} operator hooks (signed, built by the Chats API emulator) "
        f"posted by this process {sizes.users} at a time over {sizes.users} conversations; ack "
        "= POST → 200 (the hook is on disk); latency = POST → sendMessage at the Telegram "
        "emulator; time = first POST → last send or delivery status, whichever is later.",
        f"idle: {sizes.idle_probes} single messages, one at a time, 50 ms apart; end to end "
        "inbound counts from the moment the message is queued at Telegram.",
        "CPU: % of one core over each phase for the bridge · Chats API emulator · Telegram "
        f"emulator · this driver · other processes on the machine ({os.cpu_count()} cores = "
        f"{(os.cpu_count() or 1) * 100}%). Busiest emulator phase: {emulator_peak * 100:.0f}% "
        "of a core"
        + (
            ": high enough that the emulators may bound that row."
            if emulator_peak > 0.8
            else ", so the emulators were not the bottleneck."
        )
        + (
            f" Other processes took up to {others_peak * 100:.0f}% during a phase: the figures "
            "are lower than on a quiet machine."
            if others_peak > 0.1
            else ""
        ),
    ]
    peaks = ", ".join(f"{name} {mb:.0f} MB" for name, mb in bench.peaks.items())
    lines.append(f"memory: peak RSS (VmHWM) of each bridge process: {peaks}.")
    lines += [f"{name}: {fact}" for name, fact in facts.items() if name.startswith("preload")]
    if "import floor" in facts:
        lines.append(f"import floor: {facts['import floor']}.")
    if "late" in facts:
        lines.append(f"late: {facts['late']}")
    targets = [row.target for row in bench.rows.values() if row.target]
    met = sum(t.count("✓") for t in targets)
    total = met + sum(t.count("✗") for t in targets)
    lines.append(f"Targets met: {met} of {total}. Nothing is asserted about speed.")
    return lines


async def main_async(options: Options, console: Console) -> int:
    # Ctrl-C or SIGTERM: cancel the run so that every child process is stopped on the way out
    # (the loop's own SIGINT handling does not reach the task under uvloop here).
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for stop in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(stop, task.cancel)
    started = time.monotonic()
    bench = Bench(options, console)
    try:
        await bench.run()
        await bench.audit()
    finally:
        await bench.close()
    size = "quick" if options.quick else "full"
    title = (
        f"amo-chat-bridge benchmark ({size}: N={bench.sizes.messages}, U={bench.sizes.users}; "
        f"{time.monotonic() - started:.0f} s)"
    )
    rows = sorted(bench.rows.values(), key=lambda r: ORDER.index(r.name))
    lines = notes(bench)
    report.render(console, title, rows, lines)
    if options.json_path is not None:
        report.write_json(
            options.json_path, rows, lines, bench.problems, {"sizes": vars(bench.sizes)}
        )
    if options.markdown_path is not None:
        options.markdown_path.write_text(report.markdown(title, rows, lines))
    if options.profile_dir is not None:
        from bench.profile import summarize

        summarize(options.profile_dir, console)
    if bench.problems:
        console.print(f"[red]{len(bench.problems)} problem(s): lost, doubled or refused:[/red]")
        for problem in bench.problems:
            console.print(f"  - {problem}", highlight=False, soft_wrap=True)
        return 1
    console.print("Nothing lost, nothing duplicated, nothing refused.")
    return 0


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    console = Console() if Console().is_terminal else Console(width=200)
    try:
        import uvloop  # the bridge and the emulators run on it too

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        return runner(main_async(options, console))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[red]interrupted[/red]")
        return 130
    except Exception:
        console.print_exception()
        console.print("[red]the benchmark run itself failed[/red]")
        return 2


if __name__ == "__main__":
    sys.exit(main())
