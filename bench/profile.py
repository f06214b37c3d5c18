"""Where the bridge spends its time: a summary of py-spy's raw (collapsed) samples.

``python -m bench --profile DIR`` leaves one ``<phase>.txt`` per workload phase; this reads
them back. A line is ``frame;frame;...;leaf COUNT`` with frames ``function (file:line)``. Only
active samples are recorded (py-spy leaves idle threads out), so shares are of busy time.

Standalone: ``python -m bench.profile DIR [--top N]``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Library code is grouped by package, so a table shows "sqlalchemy" rather than 40 frames of it.
PACKAGES = ("site-packages/", "lib/python3")


@dataclass
class Profile:
    samples: int
    self_time: Counter[str]  # leaf frames
    inclusive: Counter[str]  # frames anywhere on the stack, once per sample
    areas: Counter[str]  # leaf frames grouped by package (or by our module)


def _name(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), "?"
    function, file = match["function"], match["file"]
    return f"{function} ({_short(file)})", _area(file)


def _short(file: str) -> str:
    for marker in ("site-packages/", "/work/main/", "/bench/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def _area(file: str) -> str:
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "lib/python3" in file:
        return "stdlib " + file.rsplit("/", 1)[-1].removesuffix(".py")
    return _short(file)


def read(path: Path) -> Profile:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f[0].startswith("thread (")]
        if not frames:
            continue
        leaf, area = frames[-1]
        self_time[leaf] += count
        areas[area] += count
        for name in {name for name, _ in frames}:
            inclusive[name] += count
    return Profile(samples, self_time, inclusive, areas)


def table(title: str, profile: Profile, top: int) -> Table:
    grid = Table(title=f"{title}: {profile.samples} busy samples", title_justify="left")
    grid.add_column("self %", justify="right")
    grid.add_column("function (leaf)")
    grid.add_column("incl. %", justify="right")
    grid.add_column("function (on the stack)")
    grid.add_column("area %", justify="right")
    grid.add_column("area (leaf)")
    total = max(1, profile.samples)
    leaves = profile.self_time.most_common(top)
    stacks = [
        item
        for item in profile.inclusive.most_common(top * 4)
        if not item[0].startswith(("<module>", "run (", "_run_once", "run_forever"))
    ][:top]
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
