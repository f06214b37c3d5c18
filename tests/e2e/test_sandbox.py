"""``amo-bridge sandbox`` as a newcomer runs it: no accounts, exit 0, a readable transcript."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_sandbox_plays_a_conversation_both_ways(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "sandbox"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    transcript = result.stdout
    for expected in (
        "customer (Telegram)",
        "Hello! Do you deliver on Sundays?",
        "amoCRM chat",
        "operator (amoCRM)",
        "Yes, we deliver every day",
        "delivery status 1",
        "sandbox conversation complete",
    ):
        assert expected in transcript, transcript
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # it cleans up after itself
