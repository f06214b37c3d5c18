"""``python -m emulators.telegram --port N --bot TOKEN:USERNAME``: the Telegram Bot API
emulator as a process of its own (the benchmarks run it so)."""

from __future__ import annotations

import argparse

import uvicorn

from emulators.telegram.app import TelegramEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--bot", action="append", default=[], metavar="TOKEN:USERNAME", help="repeatable"
    )
    parser.add_argument(
        "--webhook-parallel",
        action="store_true",
        help="deliver webhook updates of different chats in parallel, as Telegram does",
    )
    args = parser.parse_args(argv)
    emulator = TelegramEmulator(webhook_parallel=args.webhook_parallel)
    for spec in args.bot:
        token, _, username = spec.rpartition(":")
        emulator.add_bot(token, username)
    uvicorn.run(
        emulator.app, host=args.host, port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
