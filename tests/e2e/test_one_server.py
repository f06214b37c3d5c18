"""One ``amo-bridge serve`` per SQLite database: a second one refuses to start, in one line,
before it touches anything (it used to take the first one's jobs in flight for a dead worker's
and reset them)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

import pytest

from tests.e2e.conftest import CUSTOMER, TOKEN, Deployment

pytestmark = pytest.mark.e2e


def jobs_in_flight(deployment: Deployment) -> list[tuple[str, str]]:
    with sqlite3.connect(deployment.workdir / "bridge.db") as db:
        return db.execute(
            "SELECT kind, worker_id FROM job WHERE status = 'doing' ORDER BY id"
        ).fetchall()


async def test_a_second_serve_on_the_same_database_refuses_to_start(
    deployment: Deployment,
) -> None:
    amojo, telegram = deployment.amojo, deployment.telegram
    first = await deployment.start()
    telegram.user_sends_text(TOKEN, CUSTOMER, "hello")
    await amojo.wait_for(lambda: len(amojo.messages) == 1, timeout=30)
    telegram.hang_next("sendMessage")  # the first server's send stays in flight
    reply = await amojo.send_operator_message(
        deployment.scope_id, amojo.messages[0].conversation_id, "in flight"
    )
    assert reply.status == 200
    await telegram.wait_for(lambda: telegram.hanging == 1, timeout=30)
    in_flight = jobs_in_flight(deployment)
    assert len(in_flight) == 1

    second = await deployment.spawn()
    assert await asyncio.wait_for(second.wait(), 30) == 1
    output = (deployment.workdir / "serve-1.log").read_text()
    assert output.splitlines() == [output.strip()], output
    assert "another amo-bridge serve is running" in output and "bridge.db" in output
    assert jobs_in_flight(deployment) == in_flight  # not reset to be run a second time

    telegram.release_hung()
    await amojo.wait_for(lambda: len(amojo.delivery_statuses) == 1, timeout=30)
    assert first.returncode is None
    first.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(first.wait(), 10) == 0, deployment.logs()
    # Its lock went with it: the next serve starts.
    third = await deployment.start()
    third.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(third.wait(), 10) == 0, deployment.logs()
