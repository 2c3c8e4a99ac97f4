"""Console commands run as processes of their own, as an operator runs them: their time
and peak memory; and the campaign lists they import."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def peak_rss_mb(args: list[str], env: dict[str, str], *, before: str = "") -> tuple[float, float]:
    """Peak RSS (MB) and seconds of one command run as its own process (``before``: code
    the process runs first, a benchmark's variant of the service)."""
    began = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", before + RSS_PROBE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    elapsed = time.perf_counter() - began
    if child.returncode != 0:
        msg = f"{args} failed: {child.stderr[-500:]}"
        raise RuntimeError(msg)
    return float(child.stdout.strip().splitlines()[-1]), elapsed


# Runs the console script, then prints the peak RSS in MB (Linux reports KB) of the
# largest of its processes: its own, or one it started and waited for (an import's
# projection process).
RSS_PROBE = (
    "import resource, sys\n"
    "from api.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "peaks = [resource.getrusage(r).ru_maxrss for r in "
    "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]\n"
    "print(max(peaks) / 1024)\n"
    "sys.exit(status)\n"
)


def write_rows(path: Path, first: int, end: int) -> None:
    """A campaign list of rows ``first`` to ``end`` (exclusive), each with its own numbers."""
    with path.open("w") as file:
        file.write("name,destination_0,destination_1\n")
        for n in range(first, end):
            file.write(f"row {n},+8211{n:08d},sip:row{n}@example.com\n")
