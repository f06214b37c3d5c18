"""The CLI as an admin runs it: a real subprocess against emulators listening on loopback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulators.amojo.app import AmojoEmulator
from emulators.loopback import LoopbackServer
from emulators.telegram.app import TelegramEmulator
from tests.e2e.conftest import bridge_env

TOKEN = "4242777:CLI-test-token-abcdefghijklmnop"
ACCOUNT = "1b7c2b44-51e2-4a5f-8d8d-6b6f0c6d3a11"
SECRET_SETTINGS = ("BRIDGE_CHANNEL_ID", "BRIDGE_CHANNEL_SECRET", "BRIDGE_SECRET_KEY")


@dataclass
class Env:
    vars: dict[str, str]
    cwd: Path
    amojo: AmojoEmulator
    telegram: TelegramEmulator


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    channel_id, channel_secret = str(uuid.uuid4()), uuid.uuid4().hex + "abcdefgh"
    telegram = TelegramEmulator()
    telegram.add_bot(TOKEN, "cli_shop_bot", "CLI Shop")
    amojo = AmojoEmulator(channel_id=channel_id, channel_secret=channel_secret)
    async with LoopbackServer(telegram.app) as tg, LoopbackServer(amojo.app) as am:
        variables = bridge_env(channel_id, channel_secret, am.url, tg.url, tmp_path / "bridge.db")
        yield Env(variables, tmp_path, amojo, telegram)
        await amojo.aclose()
        await telegram.aclose()


async def cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    import asyncio

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge",
        *args,
        env=env.vars,
        cwd=env.cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, stdout.decode(), stderr.decode())


async def test_connect_prints_scope_and_is_idempotent(env: Env) -> None:
    first = await cli(env, "connect", "--account-id", ACCOUNT, "--telegram-token", TOKEN)
    assert first.returncode == 0, first.stderr
    scope_id = f"{env.vars['BRIDGE_CHANNEL_ID']}_{ACCOUNT}"
    assert first.stdout.strip() == scope_id
    again = await cli(
        env, "connect", "--account-id", ACCOUNT, "--telegram-token", TOKEN, "--title", "Renamed"
    )
    assert again.returncode == 0, again.stderr
    rows = (
        sqlite3.connect(env.cwd / "bridge.db")
        .execute("SELECT scope_id, title, token_encrypted FROM connection")
        .fetchall()
    )
    assert len(rows) == 1
    assert rows[0][:2] == (scope_id, "Renamed")
    assert TOKEN not in rows[0][2]
    database = (
        (env.cwd / "bridge.db").read_bytes() + (env.cwd / "bridge.db-wal").read_bytes()
        if (env.cwd / "bridge.db-wal").exists()
        else (env.cwd / "bridge.db").read_bytes()
    )
    assert TOKEN.encode() not in database
    assert TOKEN not in first.stdout + first.stderr + again.stdout + again.stderr
    assert [c.account_id for c in env.amojo.connections.values()] == [ACCOUNT]


async def test_connect_with_a_bad_token_says_so_in_one_line(env: Env) -> None:
    result = await cli(
        env, "connect", "--account-id", ACCOUNT, "--telegram-token", "4242777:wrong-secret-part"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "token" in result.stderr.lower()
    assert "wrong-secret-part" not in result.stderr
    assert env.amojo.connections == {}  # amoCRM is not touched with a bad bot


async def test_status_lists_the_connection(env: Env) -> None:
    assert (
        await cli(env, "connect", "--account-id", ACCOUNT, "--telegram-token", TOKEN)
    ).returncode == 0
    result = await cli(env, "status")
    assert result.returncode == 0, result.stderr
    for expected in (ACCOUNT, "@cli_shop_bot", "polling", "active"):
        assert expected in result.stdout


async def test_disconnect_keeps_history_and_marks_the_connection(env: Env) -> None:
    assert (
        await cli(env, "connect", "--account-id", ACCOUNT, "--telegram-token", TOKEN)
    ).returncode == 0
    result = await cli(env, "disconnect", "--account-id", ACCOUNT)
    assert result.returncode == 0, result.stderr
    [record] = env.amojo.connections.values()
    assert record.connected is False
    status = await cli(env, "status")
    assert "disconnected" in status.stdout


async def test_status_lists_dead_jobs_and_retry_replays_them(env: Env) -> None:
    from storage import Store, create_engine, upgrade_to_head

    assert (
        await cli(env, "connect", "--account-id", ACCOUNT, "--telegram-token", TOKEN)
    ).returncode == 0
    engine = create_engine(env.vars["BRIDGE_DATABASE_URL"])
    await upgrade_to_head(engine)
    store = Store(engine)
    async with store.transaction() as uow:
        [row] = await uow.connections.list()
        await uow.jobs.record_failed(
            "deliver_inbound", {"event": {}}, "Chats API answered 503", connection_id=row.id
        )
    status = await cli(env, "status")
    assert "failed for good" in status.stdout and "Chats API answered 503" in status.stdout
    replay = await cli(env, "retry", "--account-id", ACCOUNT)
    assert replay.returncode == 0, replay.stderr
    assert "1 job(s) queued again" in replay.stdout
    async with store.transaction() as uow:
        [job] = await uow.jobs.list(kind="deliver_inbound")
        assert job.status == "todo" and job.attempts == 0
    await store.close()


async def test_status_lists_connections_without_any_secret_set(env: Env) -> None:
    assert (
        await cli(env, "connect", "--account-id", ACCOUNT, "--telegram-token", TOKEN)
    ).returncode == 0
    readonly = Env(
        {k: v for k, v in env.vars.items() if k not in SECRET_SETTINGS},
        env.cwd,
        env.amojo,
        env.telegram,
    )
    result = await cli(readonly, "status")
    assert result.returncode == 0, result.stderr
    assert ACCOUNT in result.stdout and "@cli_shop_bot" in result.stdout


async def test_retry_of_a_job_id_that_does_not_exist_is_an_error(env: Env) -> None:
    assert (
        await cli(env, "connect", "--account-id", ACCOUNT, "--telegram-token", TOKEN)
    ).returncode == 0
    result = await cli(env, "retry", "--job-id", "987654")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no job 987654"
    assert "queued again" not in result.stdout
