"""`outdial import OUTDIAL_ID FILE.csv`: a campaign list from a spreadsheet, as targets.

Every row is checked before anything is written (a first pass over the file); the rows
are then written a batch at a time, each batch one atomic write. A target's id derives
from the outdial and its row (line number and content), or with ``--keep-ids`` from the
row's ``id`` column, so an interrupted import run again creates nothing twice: a batch
whose targets exist already is passed over. Both passes stream, so any number of rows
fits in constant memory; after each batch the import waits for the read model (or, with no
projection running, applies the batch to it itself), so a serving `outdial serve` stays
ready and sees the targets at once.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from api.bootstrap import open_read_model, open_service
from api.settings import Settings
from application.eventlog import StoredEventLog
from application.service import BATCH_MAX, NewTarget
from domain.address import Address
from domain.errors import DomainError, InvalidValue
from domain.outdial import Outdial
from domain.plan import DESTINATION_SLOTS
from domain.text import checked_data, checked_detail, checked_name
from projections.rebuild import catch_up
from projections.runner import ReadModel

IMPORTER = "system:import"
ADDRESS_EXTRAS = ("target_name", "name", "detail")
KNOWN = {
    "name",
    "detail",
    "data",
    *(f"destination_{n}" for n in range(DESTINATION_SLOTS)),
    *(f"destination_{n}_{extra}" for n in range(DESTINATION_SLOTS) for extra in ADDRESS_EXTRAS),
}
SHOWN_PROBLEMS = 50  # bad rows listed at most, then a count


@dataclass(frozen=True)
class Problem:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


def import_targets(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"outdial import: no file {path}", file=sys.stderr)
        return 2
    service = open_service(settings)
    events = StoredEventLog(service)
    read_model = open_read_model(settings.storage(), events)
    try:
        outdial: Any
        try:
            outdial = service.repository.get(args.outdial_id)
        except AggregateNotFoundError:
            outdial = None
        if not isinstance(outdial, Outdial):
            print(f"outdial import: no outdial {args.outdial_id}", file=sys.stderr)
            return 2
        customer = outdial.customer_id
        with path.open(newline="", encoding="utf-8-sig") as file:
            header = _header(file, keep_ids=args.keep_ids)
            if isinstance(header, str):
                print(f"outdial import: {header}", file=sys.stderr)
                return 1
            ignored = [c for c in header if c not in KNOWN and not (args.keep_ids and c == "id")]
            if ignored:
                print(f"outdial import: ignoring columns {', '.join(ignored)}", file=sys.stderr)
            problems, valid = _check(file, args)
        if problems and not args.skip_invalid:
            for problem in problems[:SHOWN_PROBLEMS]:
                print(f"outdial import: {problem}", file=sys.stderr)
            more = len(problems) - SHOWN_PROBLEMS
            if more > 0:
                print(f"outdial import: and {more} more bad rows", file=sys.stderr)
            print(
                f"outdial import: {len(problems)} bad rows, nothing imported "
                "(--skip-invalid imports the others)",
                file=sys.stderr,
            )
            return 1
        created = skipped = 0
        began = time.monotonic()
        with path.open(newline="", encoding="utf-8-sig") as file, ProgressBar(valid) as advance:
            _header(file, keep_ids=args.keep_ids)
            for batch in _batches(_rows(file, args), args.batch_size):
                news = [new for _, new in batch]
                try:
                    written = service.create_targets(
                        customer, args.outdial_id, news, actor=IMPORTER
                    )
                except DomainError as error:
                    print(f"outdial import: stopped: {error}", file=sys.stderr)
                    return 1
                if written.position is None:
                    skipped += len(news)  # imported by an earlier run
                else:
                    created += len(news)
                    _paced(read_model, events, written.position)
                advance(len(news))
        took = time.monotonic() - began
        listed = (
            "; skipped bad lines " + ", ".join(str(p.line) for p in problems) if problems else ""
        )
        print(
            f"imported {created} targets into outdial {args.outdial_id} in {took:.1f} s "
            f"({created / took if took else 0:.0f}/s); {skipped} already there{listed}",
            file=sys.stderr,
        )
        return 0
    finally:
        read_model.close()
        events.close()
        service.close()


def _paced(read_model: ReadModel, events: StoredEventLog, position: int) -> None:
    """Wait for a serving projection to apply the batch, so the import never runs ahead
    of the read model; with none active, apply it here (exactly once either way)."""
    status = read_model.status()
    if status is not None and status.active(time.time()):
        read_model.wait_until_applied(position, timeout=60)
    else:
        catch_up(events, read_model.view)


def _header(file: TextIO, *, keep_ids: bool) -> list[str] | str:
    reader = csv.reader(file)
    header = next(reader, None)
    if not header:
        return "the file is empty: it needs a header row (name, destination_0, ...)"
    if keep_ids and "id" not in header:
        return "--keep-ids needs an id column"
    if not any(c.startswith("destination_") for c in header):
        return "the header has no destination_0 .. destination_4 column"
    file.seek(0)
    return header


def _rows(file: TextIO, args: argparse.Namespace) -> Iterator[tuple[int, NewTarget]]:
    """(line number, target) of each valid row; bad rows are passed over (the check
    already refused them, or --skip-invalid lists them)."""
    for line, row in _lines(file):
        try:
            yield line, _target(row, line, args)
        except InvalidValue:
            continue


def _check(file: TextIO, args: argparse.Namespace) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    valid = 0
    for line, row in _lines(file):
        try:
            _target(row, line, args)
        except InvalidValue as error:
            problems.append(Problem(line, error.field, error.problem))
        else:
            valid += 1
    return problems, valid


def _lines(file: TextIO) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(file)
    for row in reader:
        if any(value for value in row.values() if isinstance(value, str)):
            yield reader.line_num, row


def _target(row: dict[str, Any], line: int, args: argparse.Namespace) -> NewTarget:
    destinations = [_address(row, n) for n in range(DESTINATION_SLOTS)]
    if all(d is None for d in destinations):
        raise InvalidValue("destination_0", "at least one destination must be set")
    name = checked_name(row.get("name") or "")
    detail = checked_detail(row.get("detail") or "")
    data = checked_data(row.get("data") or "")
    if args.keep_ids:
        try:
            target_id = UUID(row.get("id") or "")
        except ValueError:
            raise InvalidValue("id", "is not a UUID") from None
    else:
        known = sorted((k, v) for k, v in row.items() if k in KNOWN)
        content = "\x1f".join(f"{k}={v}" for k, v in known)
        digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
        target_id = uuid5(args.outdial_id, f"import/{line}/{digest}")
    return NewTarget(destinations, name=name, detail=detail, data=data, id=target_id)


def _address(row: dict[str, Any], n: int) -> Address | None:
    """A cell as the spreadsheet holds it: an E.164 number, or ``type:target``."""
    cell = (row.get(f"destination_{n}") or "").strip()
    extras = {extra: row.get(f"destination_{n}_{extra}") or "" for extra in ADDRESS_EXTRAS}
    if not cell:
        if any(extras.values()):
            raise InvalidValue(f"destination_{n}", "is empty but its other fields are not")
        return None
    kind, sep, target = cell.partition(":")
    raw = {"type": kind, "target": target} if sep and not cell.startswith("+") else {"target": cell}
    return Address.parse({**raw, **extras}, f"destination_{n}")


def _batches(
    rows: Iterator[tuple[int, NewTarget]], size: int
) -> Iterator[list[tuple[int, NewTarget]]]:
    batch: list[tuple[int, NewTarget]] = []
    for item in rows:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


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
