"""Where the bridge spends its time: a summary of py-spy's raw (collapsed) samples.

``python -m bench --profile DIR`` leaves one ``<phase>.txt`` per workload phase (py-spy
``--threads --format raw``); this reads them back. A line is ``thread (id): name;frame;...;leaf
COUNT`` with frames ``function (file:line)``. In an asyncio process the event loop thread is
where Python time goes; its samples whose leaf is the loop itself are time in uvloop's C code
(waiting for sockets, or reading and parsing them). aiosqlite runs each statement in a thread
of its own, with the GIL released: those samples are counted apart.

Standalone: ``python -m bench.profile DIR [--top N]``.
"""

from __future__ import annotations

import argparse
import re
import sysconfig
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

# py-spy names files relative to their import root: "sqlalchemy/orm/session.py", "bridge/x.py"
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
OURS = ("bridge/", "channels/", "storage/")
OURS_FILES = tuple(f"({package}" for package in OURS)
STDLIB = Path(sysconfig.get_paths()["stdlib"])


@dataclass
class Profile:
    samples: int  # of the event loop thread
    in_loop_c: int  # of those, inside uvloop's C loop: waiting, or socket and HTTP-parser work
    sqlite: int  # samples of aiosqlite threads running a statement (C, the GIL released)
    self_time: Counter[str]  # leaf frames of the loop thread's Python work
    inclusive: Counter[str]  # frames anywhere on those stacks, once per sample
    areas: Counter[str]  # the same leaves grouped by package (or by our module)

    @property
    def python(self) -> int:
        return self.samples - self.in_loop_c


# A leaf here means the thread waits for work, not works.
IDLE_LEAVES = ("aiosqlite/core.py:59)", "threading.py:", "queue.py:", "selectors.py:")


def _name(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), "?"
    return f"{match['function']} ({match['file']})", _area(match["file"])


def _area(file: str) -> str:
    """Our modules by name; libraries by top-level package; the standard library marked."""
    if file.startswith(OURS):
        return file.removesuffix(".py")
    top = file.split("/", 1)[0].removesuffix(".py")
    if file.startswith("<") or (STDLIB / file).exists():
        return f"stdlib {top}"
    return top


def read(path: Path) -> Profile:
    """Read ``py-spy record --threads --format raw`` output."""
    profile = Profile(0, 0, 0, Counter(), Counter(), Counter())
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        thread, *raw = stack.split(";")
        if not raw:
            continue
        if not thread.endswith("MainThread"):
            if "aiosqlite/core.py:63)" in raw[-1]:
                profile.sqlite += count
            continue
        profile.samples += count
        if raw[-1].startswith("Runner.run (") or raw[-1].endswith(IDLE_LEAVES):
            profile.in_loop_c += count
            continue
        frames = [_name(f) for f in raw]
        leaf, area = frames[-1]
        profile.self_time[leaf] += count
        profile.areas[area] += count
        for name in {name for name, _ in frames}:
            profile.inclusive[name] += count
    return profile


def table(title: str, profile: Profile, top: int) -> Table:
    total = max(1, profile.samples)
    grid = Table(
        title=f"{title}: event loop thread {profile.samples} samples: Python "
        f"{profile.python * 100 / total:.0f}%, in uvloop's C loop (waiting or I/O) "
        f"{profile.in_loop_c * 100 / total:.0f}%; SQLite running a statement in its own thread: "
        f"{profile.sqlite * 100 / total:.0f}% as many samples. Shares below: of the loop "
        "thread's samples.",
        title_justify="left",
    )
    grid.add_column("self %", justify="right")
    grid.add_column("function (leaf)")
    grid.add_column("incl. %", justify="right")
    grid.add_column("our function (anywhere on the stack)")
    grid.add_column("area %", justify="right")
    grid.add_column("area (leaf)")
    leaves = profile.self_time.most_common(top)
    # py-spy sees a coroutine's stack only down from the task's step, so library entry points
    # repeat everywhere; our own functions are what points at the code to change
    stacks = [
        item
        for item in profile.inclusive.most_common()
        if any(marker in item[0] for marker in OURS_FILES)
    ]
    stacks = stacks[:top]
    areas = profile.areas.most_common(top)
    for i in range(top):
        cells: list[str] = []
        for items in (leaves, stacks, areas):
            if i < len(items):
                cells += [f"{items[i][1] * 100 / total:.1f}", items[i][0]]
            else:
                cells += ["", ""]
        grid.add_row(*cells)
    return grid


def summarize(directory: Path, console: Console, top: int = 15) -> None:
    for path in sorted(directory.glob("*.txt")):
        console.print(table(path.stem, read(path), top))


def main() -> None:
    parser = argparse.ArgumentParser(description="summarize py-spy raw profiles")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    summarize(args.directory, Console(width=250), args.top)


if __name__ == "__main__":
    main()
