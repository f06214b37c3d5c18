"""``python -m bench.floors``: what this machine allows before the bridge does anything.

Two measurements the README's "what bounds the targets" cites, each against a real server on
loopback:

- **framework floor of a hook ack**: a FastAPI route (uvicorn, uvloop, httptools, as the
  bridge runs) that only reads the body and answers 200, posted at by the benchmark's own bare
  client, U lanes at a time: requests/s and ack p50/p99. With U lanes always busy, ack time =
  U ÷ requests per second: this is the best any hook route on this stack can do here.
- **cold path**: the bridge's Chats API client sending ``new_message`` to the Chats API
  emulator, back to back and then with 50 ms pauses (as the benchmark's idle probes do): wall
  time and CPU time per call.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.emulators import Emulators
from bench.load import percentile, run_concurrently
from bench.procs import child_env, free_port, spawn, wait_http
from bench.rawhttp import RawLane

BARE_ROUTE = """
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()

@app.post("/amojo/webhook/{scope_id}")
async def hook(scope_id: str, request: Request) -> Response:
    await request.body()
    return Response(status_code=200)

@app.get("/up")
async def up() -> dict[str, bool]:
    return {"up": True}

uvicorn.run(app, host="127.0.0.1", port=PORT, loop="uvloop", http="httptools",
            log_level="warning", access_log=False)
"""


async def bare_route(workdir: Path, lanes: int, per_lane: int) -> tuple[float, float, float]:
    """(requests/s, ack p50 s, ack p99 s) of the bare route at ``lanes`` concurrent posts."""
    port = free_port()
    server = await spawn(
        "bare-route",
        ["-c", BARE_ROUTE.replace("PORT", str(port))],
        env=child_env(),
        cwd=workdir,
        log_dir=workdir,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_http(f"{url}/up", server)
        body = b'{"account_id":"bench","message":{"text":"hook-sized body"}}' * 20
        headers = {"Content-Type": "application/json"}
        free = [RawLane(url) for _ in range(lanes)]
        acks: list[float] = []

        async def one(_: int) -> None:
            lane = free.pop()
            started = time.monotonic()
            await lane.post("/amojo/webhook/s", body, headers)
            acks.append(time.monotonic() - started)
            free.append(lane)

        await run_concurrently(lanes * 5, lanes, one)  # warm up
        acks.clear()
        started = time.monotonic()
        await run_concurrently(lanes * per_lane, lanes, one)
        elapsed = time.monotonic() - started
        for lane in free:
            await lane.close()
        return len(acks) / elapsed, percentile(acks, 0.5), percentile(acks, 0.99)
    finally:
        await server.stop(5.0)


async def cold_path(workdir: Path, calls: int) -> list[tuple[str, float, float]]:
    """(pacing, send_message p50 s, CPU s per call) back to back and 50 ms apart."""
    from bridge.amojo import AmojoClient
    from bridge.amojo.models import MessageContent, NewMessage, Participant

    emulators = Emulators(workdir, free_port())
    await emulators.start()
    client = AmojoClient.create(
        emulators.amojo_url, emulators.channel_id, emulators.channel_secret
    )
    try:
        scope = str((await client.connect("floors-account", "Floors"))["scope_id"])

        async def send() -> None:
            now = time.time()
            await client.send_message(
                scope,
                NewMessage(
                    timestamp=int(now),
                    msec_timestamp=int(now * 1000),
                    msgid=uuid.uuid4().hex,
                    conversation_id="floors-conversation",
                    silent=False,
                    sender=Participant(id="floors-user", name="Floors"),
                    message=MessageContent(type="text", text="cold or warm"),
                ),
            )

        for _ in range(20):
            await send()
        results = []
        for pacing, pause in (("back to back", 0.0), ("50 ms apart", 0.05)):
            walls: list[float] = []
            cpu = time.process_time()
            for _ in range(calls):
                started = time.perf_counter()
                await send()
                walls.append(time.perf_counter() - started)
                if pause:
                    await asyncio.sleep(pause)
            results.append((pacing, percentile(walls, 0.5), (time.process_time() - cpu) / calls))
        return results
    finally:
        await client.aclose()
        await emulators.stop()


async def main(lanes: int, calls: int) -> None:
    console = Console(width=max(Console().width, 110))
    workdir = Path(tempfile.mkdtemp(prefix="amo-floors-"))
    rate, p50, p99 = await bare_route(workdir, lanes, 40)
    cold = await cold_path(workdir, calls)
    table = Table(title="floors of this machine")
    table.add_column("measurement")
    table.add_column("result")
    table.add_row(
        f"bare FastAPI route, {lanes} concurrent posts",
        f"{rate:,.0f} requests/s, ack p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
    )
    for pacing, wall, cpu in cold:
        table.add_row(
            f"Chats API client send_message, {pacing}",
            f"p50 {wall * 1000:.2f} ms, CPU {cpu * 1000:.2f} ms per call",
        )
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.floors", description=__doc__)
    parser.add_argument("--lanes", type=int, default=50, help="concurrent posts (U)")
    parser.add_argument("--calls", type=int, default=100, help="Chats API calls per pacing")
    arguments = parser.parse_args()
    import uvloop

    uvloop.run(main(arguments.lanes, arguments.calls))
