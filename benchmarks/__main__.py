"""``python -m benchmarks [--quick]``: every figure beside its reference, into
benchmarks/results/latest.md (``make bench``; ``make bench-quick`` is the short run)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks import scenarios
from benchmarks.findings import FINDINGS
from benchmarks.report import Figure, Report

RESULTS = Path(__file__).parent / "results" / "latest.md"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes, under two minutes")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--only", action="append", default=[], help="run only these scenarios (by name)"
    )
    args = parser.parse_args()
    report = Report(quick=args.quick)
    if args.only:  # a part of the report: say which
        report.command = " ".join(["python -m benchmarks", *(f"--only {o}" for o in args.only)])
    started = time.monotonic()
    report.findings = FINDINGS
    for name, scenario in scenarios.ALL:
        if args.only and name not in args.only:
            continue
        try:
            scenario(report, quick=args.quick)
        except Exception as error:  # one failing scenario must not lose the others' rows
            said = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            report.add(Figure("-", f"scenario {name}", 0, "", target="runs", met=False, note=said))
        report.write(args.output)  # after each: an interrupted run keeps what it measured
    report.write(args.output)
    print(f"wrote {args.output} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
