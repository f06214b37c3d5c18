"""Child processes of the benchmark (emulators, the bridge) and what /proc says about them.

CPU time comes from ``/proc/<pid>/stat`` (utime + stime, all threads: aiosqlite's worker
threads count too), memory from ``/proc/<pid>/status``. Linux only, like the machine it runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far; 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # the command name in parentheses may hold spaces; the fields after it are fixed
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int, name: str = "VmHWM") -> float:
    """A ``/proc/<pid>/status`` memory line in MiB (VmHWM: peak resident set; VmRSS: now)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: none of the caller's BRIDGE_* settings, and this checkout
    first on the import path, so children run the same code as the benchmark."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    env.update(extra or {})
    return env


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` s; the exit status (negative: a signal)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        return self.process.returncode


async def spawn(
    name: str, args: list[str], *, env: Mapping[str, str], cwd: Path, log_dir: Path
) -> Child:
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, env=dict(env), cwd=cwd, stdout=log, stderr=log
        )
    return Child(name, process, log_path)


async def wait_http(
    url: str, child: Child, within: float = 60.0, ok: tuple[int, ...] = (200,)
) -> None:
    """Poll ``url`` until it answers one of ``ok``; fail early if the child died."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        while True:
            if child.process.returncode is not None:
                raise RuntimeError(
                    f"{child.name} exited with {child.process.returncode}:\n{child.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code in ok:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} not ready at {url}:\n{child.log_tail()}")
            await asyncio.sleep(0.05)


@dataclass
class CpuMeter:
    """CPU used by each watched process (and the machine) between ``start`` and ``stop``."""

    children: dict[str, int]
    shares: dict[str, float] = field(default_factory=dict)  # of one core; machine: of all
    _start: dict[str, float] = field(default_factory=dict)
    _wall: float = 0.0
    _machine: tuple[int, int] = (0, 0)

    def start(self) -> CpuMeter:
        self._start = {name: cpu_seconds(pid) for name, pid in self.children.items()}
        self._start["bench"] = time.process_time()
        self._machine = machine_jiffies()
        self._wall = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        wall = max(1e-6, time.monotonic() - self._wall)
        used = {name: cpu_seconds(pid) for name, pid in self.children.items()}
        used["bench"] = time.process_time()
        self.shares = {name: (used[name] - self._start[name]) / wall for name in used}
        busy, total = machine_jiffies()
        spent = max(1, total - self._machine[1])
        self.shares["machine"] = (busy - self._machine[0]) / spent
        # whatever else ran meanwhile (another user's tests, say), in cores like the rest
        ours = sum(self.shares[name] for name in used)
        self.shares["others"] = max(0.0, self.shares["machine"] * (os.cpu_count() or 1) - ours)
        self.shares["wall"] = wall
        return self.shares


# The modules ``amo-bridge serve`` runs on, imported and nothing else: the part of its
# memory that its dependencies alone take.
IMPORT_FLOOR_PROBE = """
import bridge.container, bridge.web.app, channels.telegram, uvicorn
print(next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")))
"""


async def import_floor_mb() -> float:
    """RSS of a fresh interpreter that has imported the bridge's modules, in MB."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        IMPORT_FLOOR_PROBE,
        env=child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await process.communicate()
    return int(out) / 1024
