"""A missing or malformed setting: one line naming it, exit status 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

VALID = {
    "BRIDGE_CHANNEL_ID": "344a5002-f8ca-454d-af3d-396180102ac7",
    "BRIDGE_CHANNEL_SECRET": "f2d7f8704eff95087ed45b23ba99c0b5aac8278e",
    "BRIDGE_SECRET_KEY": "rS3Y0Pq2m0nZP6w3gJ6nq5q2D2yGm9kq7pTQG5b3K8c=",
}


def run_cli(
    tmp_path: Path, env: dict[str, str], *args: str, default_database: bool = False
) -> subprocess.CompletedProcess[str]:
    """The real ``amo-bridge`` in ``tmp_path``, with only ``env``'s BRIDGE_ settings (and a
    database in tmp_path unless ``default_database``: then the built-in default)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    clean.update(env)
    if not default_database:
        clean.setdefault("BRIDGE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("missing", "name"),
    [
        ("BRIDGE_CHANNEL_ID", "BRIDGE_CHANNEL_ID"),
        ("BRIDGE_CHANNEL_SECRET", "BRIDGE_CHANNEL_SECRET"),
    ],
)
def test_missing_required_setting(tmp_path: Path, missing: str, name: str) -> None:
    env = {k: v for k, v in VALID.items() if k != missing}
    result = run_cli(tmp_path, env, "serve")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and "required" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "complaint", "command"),
    [
        ("BRIDGE_CHANNEL_ID", "not-a-uuid", "UUID", "serve"),
        ("BRIDGE_SECRET_KEY", "short", "Fernet", "serve"),
        ("BRIDGE_PUBLIC_URL", "http://bridge.example.com", "https", "serve"),
        ("BRIDGE_PORT", "eighty", "integer", "serve"),
        ("BRIDGE_HTTP_HEADER_TIMEOUT", "0", "greater than 0", "serve"),
        ("BRIDGE_HTTP_MAX_CONNECTIONS", "many", "integer", "serve"),
        ("BRIDGE_LOG_FORMAT", "xml", "console", "status"),
        ("BRIDGE_LOG_FORMAT", "xml", "console", "serve"),
        ("BRIDGE_DATABASE_URL", "mysql://x/y", "async driver", "status"),
        ("BRIDGE_DATABASE_URL", "mysql://x/y", "async driver", "serve"),
    ],
)
def test_malformed_setting(
    tmp_path: Path, variable: str, value: str, complaint: str, command: str
) -> None:
    result = run_cli(tmp_path, {**VALID, variable: value}, command)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert complaint in lines[0]
    assert "Traceback" not in result.stderr


def test_serve_requires_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in VALID.items() if k != "BRIDGE_SECRET_KEY"}
    result = run_cli(tmp_path, env, "serve")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: BRIDGE_SECRET_KEY: required but not set"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in VALID.items()))
    result = run_cli(tmp_path, {}, "status")
    assert result.returncode == 0, result.stderr
    assert "no connections yet" in result.stdout
