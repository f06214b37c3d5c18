"""``python -m bench --quick`` and ``python -m bench.floors`` run to the end: what CI runs so
the benchmark never rots.

Nothing about speed is asserted (speed lives in the benchmark's table); only that the run
completes, loses and duplicates nothing (exit status 0) and prints every row.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ROWS = ("ceiling", "inbound", "outbound", "idle", "memory", "growth")


def run_module(*args: str, timeout: float) -> str:
    """``python -m args…`` from the checkout's root; its output, once it exited 0."""
    run = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    return output


def test_quick_bench_runs_and_prints_every_row(tmp_path: Path) -> None:
    results = tmp_path / "bench.json"
    output = run_module("bench", "--quick", "--json", str(results), timeout=240)
    for row in ROWS:
        assert f"│ {row} " in output, f"row {row!r} missing from:\n{output}"
    document = json.loads(results.read_text())
    assert {row["name"] for row in document["rows"]} == set(ROWS)
    assert document["problems"] == []


def test_floors_run_and_print_their_measurements() -> None:
    output = run_module("bench.floors", "--lanes", "5", "--calls", "5", timeout=120)
    assert "bare FastAPI route, 5 concurrent posts" in output, output
    assert "requests/s" in output
    assert "send_message, back to back" in output
    assert "send_message, 50 ms apart" in output
