"""The benchmark report: the machine, then one row per figure beside its reference."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Figure:
    store: str  # "sqlite", "postgres" or "-"
    name: str
    value: float
    unit: str
    reference: float | None = None  # measured in the same run
    reference_name: str = ""
    target: str = ""
    met: bool | None = None  # None: no target, or the target is not a ratio of this row
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference in (None, 0):
            return None
        assert self.reference is not None
        return self.value / self.reference


@dataclass
class Report:
    quick: bool
    figures: list[Figure] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    command: str = ""  # what wrote it, when not the make target

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(_line(figure), flush=True)
        return figure

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown())

    def markdown(self) -> str:
        command = self.command or ("make bench-quick" if self.quick else "make bench")
        lines = [
            "# Benchmark report",
            "",
            f"Written by `{command}` on "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Every reference was measured in the same "
            "run as its figure; compare ratios, not figures across runs.",
            "",
            "## Machine",
            "",
            *(f"- {line}" for line in machine()),
            "",
            "## Figures",
            "",
            "| store | figure | this service | reference | ratio | target | met |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in self.figures:
            reference = (
                ""
                if f.reference is None
                else f"{_number(f.reference)} {f.unit} ({f.reference_name})"
            )
            ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
            met = {True: "yes", False: "**no**", None: ""}[f.met]
            value = f"{_number(f.value)} {f.unit}" + (f" ({f.note})" if f.note else "")
            lines.append(
                f"| {f.store} | {f.name} | {value} | {reference} | {ratio} | {f.target} | {met} |"
            )
        if self.findings:
            lines += ["", "## Findings", "", *(f"- {finding}" for finding in self.findings)]
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _line(f: Figure) -> str:
    reference = (
        "" if f.reference is None else f"  | ref {_number(f.reference)} ({f.reference_name})"
    )
    ratio = "" if f.ratio is None else f"  ratio {f.ratio:.2f}"
    met = "" if f.met is None else ("  ok" if f.met else "  MISSED")
    return f"[{f.store}] {f.name}: {_number(f.value)} {f.unit}{reference}{ratio}{met}"


def machine() -> list[str]:
    cores = os.cpu_count()
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory = 0.0
    try:
        postgres = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except OSError:
        postgres = "not found"
    return [
        f"{cores} cores, {memory:.0f} GiB, {platform.machine()}, {platform.system()} "
        f"{platform.release()}",
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {postgres}",
        "load generator: benchmarks/load.py, 8 concurrent keep-alive clients on the same machine",
    ]
