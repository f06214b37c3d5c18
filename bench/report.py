"""One table, a few footnotes, optionally JSON: what the benchmark prints. It judges nothing
but completeness; targets are shown next to the numbers, met (✓) or not (✗)."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.load import Measure, percentile


@dataclass
class Row:
    name: str  # ceiling, inbound, outbound, idle, memory, growth
    mode: str
    measure: Measure | None = None
    ratio: float | None = None  # throughput as a share of the ceiling's
    result: str = ""  # what a row measures besides throughput (RSS, slowdown)
    target: str = ""  # the target and whether it was met
    values: dict[str, float] = field(default_factory=dict)  # for the JSON


def ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value * 1000:.1f}"


def pair(values: list[float]) -> str:
    if not values:
        return ""
    return f"{ms(percentile(values, 0.5))} / {ms(percentile(values, 0.99))}"


def cpu_cell(cpu: dict[str, float]) -> str:
    if not cpu:
        return ""
    names = ("bridge", "amojo", "telegram", "bench", "others")
    return " · ".join(f"{cpu.get(n, 0) * 100:.0f}" for n in names)


def verdict(ok: bool, text: str) -> str:
    return f"{text} {'✓' if ok else '✗'}"


def render(console: Console, title: str, rows: list[Row], notes: list[str]) -> None:
    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("row", "left"),
        ("mode", "left"),
        ("N", "right"),
        ("time s", "right"),
        ("msg/s", "right"),
        ("× ceiling", "right"),
        ("latency p50 / p99 ms", "right"),
        ("ack p50 / p99 ms", "right"),
        ("CPU % bridge · amojo · tg · driver · other", "right"),
        ("result / target", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        m = row.measure
        table.add_row(
            row.name,
            row.mode,
            str(m.count) if m else "",
            f"{m.seconds:.2f}" if m and m.seconds else "",
            f"{m.rate:.0f}" if m and m.rate else "",
            f"{row.ratio:.2f}" if row.ratio is not None else "",
            pair(m.latencies) if m else "",
            pair(m.acks) if m else "",
            cpu_cell(m.cpu) if m else "",
            " ".join(part for part in (row.result, row.target) if part),
        )
    console.print(table)
    for note in notes:
        console.print(note, highlight=False, soft_wrap=True)


def markdown(title: str, rows: list[Row], notes: list[str]) -> str:
    """The same table as Markdown, for the README's Performance section."""
    head = ["row", "mode", "N", "time s", "msg/s", "× ceiling", "latency p50 / p99 ms"]
    head += ["ack p50 / p99 ms", "CPU % bridge · amojo · tg · driver · other", "result / target"]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        m = row.measure
        cells = [
            row.name,
            row.mode,
            str(m.count) if m else "",
            f"{m.seconds:.2f}" if m and m.seconds else "",
            f"{m.rate:.0f}" if m and m.rate else "",
            f"{row.ratio:.2f}" if row.ratio is not None else "",
            pair(m.latencies) if m else "",
            pair(m.acks) if m else "",
            cpu_cell(m.cpu) if m else "",
            " ".join(part for part in (row.result, row.target) if part),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", *(f"- {note}" for note in notes)]) + "\n"


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def write_json(
    path: Path, rows: list[Row], notes: list[str], problems: list[str], extra: dict[str, Any]
) -> None:
    def measure(m: Measure | None) -> dict[str, Any] | None:
        if m is None:
            return None
        return {
            "count": m.count,
            "seconds": m.seconds,
            "rate": m.rate,
            "latency_p50": percentile(m.latencies, 0.5) if m.latencies else None,
            "latency_p99": percentile(m.latencies, 0.99) if m.latencies else None,
            "ack_p50": percentile(m.acks, 0.5) if m.acks else None,
            "ack_p99": percentile(m.acks, 0.99) if m.acks else None,
            "e2e_p50": percentile(m.e2e, 0.5) if m.e2e else None,
            "cpu": m.cpu,
        }

    document = {
        "machine": machine(),
        **extra,
        "rows": [
            {
                "name": r.name,
                "mode": r.mode,
                "measure": measure(r.measure),
                "ratio_to_ceiling": r.ratio,
                "result": r.result,
                "target": r.target,
                "values": r.values,
            }
            for r in rows
        ],
        "notes": notes,
        "problems": problems,
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
