"""Every bad input to the real ``amo-bridge`` is one line on stderr, never a traceback, with the
interface's exit status (2 for configuration and usage, 1 for what failed at run time)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.bridge.test_settings import VALID, run_cli
from tests.conftest import PG_URL, require_postgres

# Nothing listens there: a command that reached the network would fail differently.
OFFLINE = {
    "BRIDGE_TELEGRAM_API_URL": "http://127.0.0.1:1",
    "BRIDGE_AMOJO_URL": "http://127.0.0.1:1",
}
GOOD_TOKEN = "4242555:well-formed-token-abcdefghijkl"


def one_line(result: object, code: int) -> str:
    """The single stderr line of a failed command (asserted), for further checks."""
    from subprocess import CompletedProcess

    assert isinstance(result, CompletedProcess)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return str(lines[0])


@pytest.mark.parametrize(
    "token",
    [
        GOOD_TOKEN + " ",
        f'"{GOOD_TOKEN}"',
        "bot4242555:well-formed-token-abcdefghijkl",
        "4242555:well-formed-token/abcdefghijkl",
        "",
    ],
)
def test_malformed_bot_token_is_one_line_and_touches_nothing(tmp_path: Path, token: str) -> None:
    result = run_cli(
        tmp_path, {**VALID, **OFFLINE}, "connect", "--account-id", "acc", "--telegram-token", token
    )
    line = one_line(result, 2)
    assert "--telegram-token" in line and "not a Telegram bot token" in line
    assert "well-formed-token" not in result.stdout + result.stderr
    assert not (tmp_path / "b.db").exists()


def test_missing_option_is_one_line(tmp_path: Path) -> None:
    line = one_line(run_cli(tmp_path, VALID, "connect", "--account-id", "acc"), 2)
    assert "--telegram-token" in line


def test_long_error_is_not_wrapped_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    account = "account-" + "x" * 120
    result = run_cli(tmp_path, {**VALID, **OFFLINE}, "retry", "--account-id", account)
    line = one_line(result, 1)
    assert line == f"error: no connection for account {account}"


def test_unreachable_telegram_is_one_line_without_the_token(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path,
        {**VALID, **OFFLINE},
        "connect",
        "--account-id",
        "acc",
        "--telegram-token",
        GOOD_TOKEN,
    )
    line = one_line(result, 1)
    assert "Telegram" in line and "well-formed-token" not in line


def unopenable_sqlite(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder.db").mkdir()
    return {
        # /proc refuses new folders, whoever runs the tests (root included).
        "under a folder that cannot be created": "/proc/no-such-folder/bridge.db",
        "under a file": str(tmp_path / "a-file" / "bridge.db"),
        "a folder": str(tmp_path / "a-folder.db"),
    }


COMMANDS = [
    ("status",),
    ("serve",),
    ("retry",),
    ("disconnect", "--account-id", "acc"),
    ("connect", "--account-id", "acc", "--telegram-token", GOOD_TOKEN),
]


@pytest.mark.parametrize(
    ("case", "command"),
    [
        *(("under a folder that cannot be created", command) for command in COMMANDS),
        ("under a file", ("serve",)),
        ("under a file", ("retry",)),
        ("a folder", ("status",)),
        ("a folder", ("serve",)),
        ("a folder", ("connect", "--account-id", "acc", "--telegram-token", GOOD_TOKEN)),
    ],
    ids=lambda value: value[0] if isinstance(value, tuple) else value,
)
def test_sqlite_database_that_cannot_be_opened_is_one_line(
    tmp_path: Path, command: tuple[str, ...], case: str
) -> None:
    path = unopenable_sqlite(tmp_path)[case]
    env = {**VALID, **OFFLINE, "BRIDGE_DATABASE_URL": f"sqlite+aiosqlite:///{path}"}
    result = run_cli(tmp_path, env, *command)
    if command == ("status",) and case != "a folder":
        # Nothing there yet: status says so, and creates nothing.
        assert result.returncode == 0, result.stderr
        assert "no connections yet" in result.stdout
        return
    line = one_line(result, 2)
    assert f"cannot open the database {path}" in line


def _pg(user: str = "postgres", database: str = "test", port: int = 5432) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL).set(username=user, password="pw-never-shown", database=database)
    return url.set(port=port).render_as_string(hide_password=False)


@pytest.mark.parametrize("command", [("status",), ("serve",), ("retry",)], ids=lambda c: c[0])
def test_refused_postgresql_port_is_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = {**VALID, **OFFLINE, "BRIDGE_DATABASE_URL": _pg(port=1)}
    line = one_line(run_cli(tmp_path, env, *command), 2)
    assert "connection refused" in line
    assert "pw-never-shown" not in line


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        (lambda: _pg(database="no_such_bridge_db"), '"no_such_bridge_db" does not exist'),
        (lambda: _pg(user="no_such_bridge_role"), '"no_such_bridge_role" does not exist'),
    ],
    ids=["unknown database", "unknown role"],
)
@pytest.mark.parametrize("command", [("status",), ("serve",)], ids=lambda c: c[0])
def test_unknown_postgresql_database_or_role_is_one_line(
    tmp_path: Path, url: object, complaint: str, command: tuple[str, ...]
) -> None:
    require_postgres()
    assert callable(url)
    env = {**VALID, **OFFLINE, "BRIDGE_DATABASE_URL": url()}
    line = one_line(run_cli(tmp_path, env, *command), 2)
    assert complaint in line
    assert "pw-never-shown" not in line


def test_retry_of_a_job_that_does_not_exist_fails_in_one_line(tmp_path: Path) -> None:
    line = one_line(run_cli(tmp_path, {**VALID, **OFFLINE}, "retry", "--job-id", "4711"), 1)
    assert "4711" in line


def test_retry_of_a_job_that_has_not_failed_fails_in_one_line(tmp_path: Path) -> None:
    assert run_cli(tmp_path, {**VALID, **OFFLINE}, "retry").returncode == 0  # creates the db
    with sqlite3.connect(tmp_path / "b.db") as db:
        job_id = db.execute(
            "INSERT INTO job (kind, payload, status, attempts, run_at, created_at, updated_at)"
            " VALUES ('deliver_inbound', '{}', 'todo', 0, 0, 0, 0) RETURNING id"
        ).fetchone()[0]
    line = one_line(run_cli(tmp_path, {**VALID, **OFFLINE}, "retry", "--job-id", str(job_id)), 1)
    assert str(job_id) in line and "not failed" in line


def test_status_needs_no_secrets_and_creates_no_files(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {}, "status", default_database=True)
    assert result.returncode == 0, result.stderr
    assert "no connections yet" in result.stdout
    assert list(tmp_path.iterdir()) == []
