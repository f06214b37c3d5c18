"""Shared fixtures: a network guard, stores on SQLite and PostgreSQL, a running sandbox bridge."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.sandbox.harness import SandboxBridge, running_bridge
from storage import Store, create_engine, upgrade_to_head

PG_URL = os.environ.get("BRIDGE_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = bool(os.environ.get("CI"))
FAST_RETRY = {"retry_base": 0.05, "retry_cap": 0.5, "retry_max_attempts": 60, "amojo_timeout": 2.0}


# -- network guard: tests talk to loopback only ------------------------------------------------
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_address(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            if host == "localhost":
                return
        raise RuntimeError(f"test tried to reach {host}: only loopback is allowed")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def network_guard() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


# -- PostgreSQL: a fresh database per test, skipped with a reason where there is no server ----
def _pg_reachable() -> str | None:
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1):
            return None
    except OSError as error:
        return f"PostgreSQL not reachable at {url.host}:{url.port} ({error.strerror or error})"


PG_PROBLEM = _pg_reachable()


async def _admin(statement: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def require_postgres() -> None:
    if PG_PROBLEM:
        if IN_CI:
            pytest.fail(f"CI must run the PostgreSQL tests: {PG_PROBLEM}")
        pytest.skip(PG_PROBLEM)


async def fresh_pg_url() -> tuple[str, str]:
    from sqlalchemy.engine import make_url

    name = f"bridge_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name


async def drop_pg(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    require_postgres()
    url, name = await fresh_pg_url()
    try:
        yield url
    finally:
        await drop_pg(name)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    store = Store(engine)
    try:
        yield store
    finally:
        await store.close()


# -- the whole bridge against both emulators ------------------------------------------------------
@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[SandboxBridge]:
    async with running_bridge(tmp_path, **FAST_RETRY) as bridge:
        yield bridge


def pytest_report_header() -> list[str]:
    return [f"postgres: {'unavailable: ' + PG_PROBLEM if PG_PROBLEM else PG_URL}"]
