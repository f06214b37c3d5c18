"""``python -m emulators.amojo --port N --channel-id … --channel-secret …``: the Chats API
emulator as a process of its own (the benchmarks run it so)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import uvicorn

from emulators.amojo.app import AmojoEmulator


async def run_standalone(
    host: str,
    port: int,
    channel_id: str,
    channel_secret: str,
    hook_url_template: str | None = None,
) -> None:
    emulator = AmojoEmulator(
        channel_id=channel_id,
        channel_secret=channel_secret,
        hook_url_template=hook_url_template,
    )
    config = uvicorn.Config(
        emulator.app, host=host, port=port, log_level="warning", access_log=False
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        await emulator.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="amoCRM Chats API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--channel-id", required=True)
    parser.add_argument("--channel-secret", required=True)
    parser.add_argument("--hook-url-template", default=None)
    args = parser.parse_args(argv)
    run: Callable[[Any], None] = asyncio.run
    with contextlib.suppress(ImportError):
        # the loop uvicorn.run would pick: a standalone emulator must not be the slow side
        import uvloop

        run = uvloop.run
    run(
        run_standalone(
            args.host, args.port, args.channel_id, args.channel_secret, args.hook_url_template
        )
    )


if __name__ == "__main__":
    main()
