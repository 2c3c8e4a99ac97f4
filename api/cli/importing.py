"""`outdial import OUTDIAL_ID FILE.csv`: the console's part of an import. It reads and
checks the file (api/cli/rows.py: every row before anything is written, strict CSV) and
prints what happened; the use case itself (batches, re-runs, ids) is
application/importing.py, and keeping the read model along is
api/workers/import_projection.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.library import refresh_statistics, unsynced_commits
from api.bootstrap import Services, bootstrap
from api.cli.rows import KNOWN, Unreadable, check, header_of, slots_of, targets_of
from api.garbage_collection import seldom_collected
from api.settings import Settings
from api.workers.import_projection import ImportProjection
from application.errors import REFUSALS, OutdialNotFound
from application.importing import identity, import_targets
from application.service import BATCH_MAX

SHOWN_PROBLEMS = 50  # bad rows listed at most, then a count


def report_bad_rows(command: str, problems: Sequence[object]) -> None:
    """Why a file was refused whole: its first bad rows, how many more, what to do."""
    for problem in problems[:SHOWN_PROBLEMS]:
        print(f"{command}: {problem}", file=sys.stderr)
    more = len(problems) - SHOWN_PROBLEMS
    if more > 0:
        print(f"{command}: and {more} more bad rows", file=sys.stderr)
    print(
        f"{command}: {len(problems)} bad rows, nothing imported "
        "(--skip-invalid imports the others)",
        file=sys.stderr,
    )


def import_file(settings: Settings, args: argparse.Namespace) -> int:
    with seldom_collected():
        return _import_targets(settings, args)


def _import_targets(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"outdial import: no file {path}", file=sys.stderr)
        return 2
    with bootstrap(settings) as services:
        try:
            customer = services.service.customer_of_outdial(args.outdial_id)
        except OutdialNotFound:
            print(f"outdial import: no outdial {args.outdial_id}", file=sys.stderr)
            return 2
        along = ImportProjection(services)
        try:
            along.start()  # its projection process starts while the rows are checked
            return _import(services, along, customer, path, args)
        finally:
            along.close()


def _import(
    services: Services,
    along: ImportProjection,
    customer: UUID,
    path: Path,
    args: argparse.Namespace,
) -> int:
    try:
        header = header_of(path, keep_ids=args.keep_ids)
    except Unreadable as error:
        header = f"{error}; nothing imported"
    if isinstance(header, str):
        print(f"outdial import: {header}", file=sys.stderr)
        return 1
    ignored = [c for c in header if c not in KNOWN and not (args.keep_ids and c == "id")]
    if ignored:
        print(f"outdial import: ignoring columns {', '.join(ignored)}", file=sys.stderr)
    slots = slots_of(header)
    try:
        problems, valid = check(path, header, keep_ids=args.keep_ids, slots=slots)
    except Unreadable as error:
        print(f"outdial import: {error}; nothing imported", file=sys.stderr)
        return 1
    if problems and not args.skip_invalid:
        report_bad_rows("outdial import", problems)
        return 1
    service = services.service
    identify = identity((c for c in header if c in KNOWN), service, customer, args.outdial_id)
    began = time.monotonic()
    with (
        path.open(newline="", encoding="utf-8-sig") as file,
        ProgressBar(valid) as advance,
        unsynced_commits(service.recorder),
    ):
        rows = targets_of(file, keep_ids=args.keep_ids, slots=slots, identify=identify)
        try:
            imported = import_targets(
                service,
                customer,
                args.outdial_id,
                rows,
                batch_size=args.batch_size,
                along=along,
                advance=advance,
            )
        except REFUSALS as error:
            print(f"outdial import: stopped: {error}", file=sys.stderr)
            return 1
    if imported.created:  # counted for the planner: its next reads are a dispatch's, of them
        services.read_model.view.refresh_statistics()
        refresh_statistics(service.recorder)
    took = time.monotonic() - began
    listed = "; skipped bad lines " + ", ".join(str(p.line) for p in problems) if problems else ""
    rate = imported.created / took if took else 0
    print(
        f"imported {imported.created} targets into outdial {args.outdial_id} in {took:.1f} s "
        f"({rate:.0f}/s); {imported.already_there} already there{listed}",
        file=sys.stderr,
    )
    return 0


class ProgressBar:
    """A bar on a terminal; nothing otherwise (the summary line says how it went)."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._bar: Progress | None = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return lambda n: None
        columns = (
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        self._bar = Progress(*columns, transient=True)
        self._bar.start()
        task = self._bar.add_task("import", total=self._total)
        bar = self._bar
        return lambda n: bar.advance(task, n)

    def __exit__(self, *_: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def batch_size(text: str) -> int:
    size = int(text)
    if not 1 <= size <= BATCH_MAX:
        msg = f"must be between 1 and {BATCH_MAX}"
        raise argparse.ArgumentTypeError(msg)
    return size
