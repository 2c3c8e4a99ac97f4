"""`outdial import OUTDIAL_ID FILE.csv`: a campaign list from a spreadsheet, as targets.

Every row is checked before anything is written (a first pass over the file); the rows
are then written a batch at a time, each batch one atomic write. A target's id derives
from the outdial and its row (line number and content), or with ``--keep-ids`` from the
row's ``id`` column, so an interrupted import run again creates nothing twice: a batch
whose targets exist already is passed over. Both passes stream, so any number of rows
fits in constant memory. The import keeps the read model along (``Pace``): it runs at most
a few batches ahead of an active projection, or, with none running, of a projection
process of its own, so a serving `outdial serve` stays ready and sees the targets soon.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import multiprocessing
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from api.bootstrap import open_read_model, open_service
from api.cli.collection import seldom_collected
from api.settings import Settings
from application.errors import TargetNotFound
from application.eventlog import StoredEventLog
from application.service import BATCH_MAX, NewTarget, OutdialService
from application.storage import Storage, unsynced_commits
from domain.address import IMPLIED_TYPE, Address, is_e164
from domain.errors import DomainError, InvalidValue
from domain.outdial import Outdial
from domain.plan import DESTINATION_SLOTS
from domain.text import checked_data, checked_detail, checked_name
from projections.events import Notified
from projections.rebuild import catch_up
from projections.runner import ReadModel

IMPORTER = "system:import"
# A cell's address fields beyond type and target, each in a column of its own; what
# `outdial export targets` writes, so that its file imports again.
ADDRESS_EXTRAS = ("target_name", "name", "detail")
EXTRA_COLUMNS = tuple(
    f"destination_{n}_{extra}" for n in range(DESTINATION_SLOTS) for extra in ADDRESS_EXTRAS
)
KNOWN = {
    "name",
    "detail",
    "data",
    *(f"destination_{n}" for n in range(DESTINATION_SLOTS)),
    *EXTRA_COLUMNS,
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
    with seldom_collected():
        return _import_targets(settings, args)


def _import_targets(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"outdial import: no file {path}", file=sys.stderr)
        return 2
    service = open_service(settings)
    events = StoredEventLog(service)
    read_model = open_read_model(settings.storage(), events)
    pace = Pace(read_model, events, settings.storage())
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

        def imported(target_id: UUID) -> bool:
            try:
                service.get_target(customer, args.outdial_id, target_id)
            except TargetNotFound:
                return False
            return True

        pace.start()  # its projection process starts while the rows are checked
        with path.open(newline="", encoding="utf-8-sig") as file:
            header = _header(file, keep_ids=args.keep_ids)
            if isinstance(header, str):
                print(f"outdial import: {header}", file=sys.stderr)
                return 1
            ignored = [c for c in header if c not in KNOWN and not (args.keep_ids and c == "id")]
            if ignored:
                print(f"outdial import: ignoring columns {', '.join(ignored)}", file=sys.stderr)
            slots = _slots_of(header)
            problems, valid = _check(file, args, slots)
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
            try:
                with unsynced_commits(service.recorder):
                    rows = _rows(file, args, slots, _identity(header, args, imported))
                    for batch in _batches(rows, args.batch_size):
                        try:
                            written = service.create_missing_targets(
                                customer, args.outdial_id, batch, actor=IMPORTER
                            )
                        except DomainError as error:
                            print(f"outdial import: stopped: {error}", file=sys.stderr)
                            return 1
                        created += len(written.value)
                        skipped += len(batch) - len(written.value)  # an earlier run's
                        if written.position is not None:
                            pace.written(written.position, written.recorded)
                        advance(len(batch))
            finally:
                pace.finish()
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
        pace.close()
        read_model.close()
        events.close()
        service.close()


# Events applied to the read model in one transaction by the import's own projection: the
# read model's ids are random, so a bigger transaction writes each index page it dirties
# fewer times (1,000 a commit: 45 us an event; 5,000: 36 us).
APPLY_EVERY = 5_000
# Batches the import may write before the read model shows the first of them.
LEAD = 3
_SPAWN = multiprocessing.get_context("spawn")  # a fresh process: no inherited connections


class Pace:
    """Keeps the read model along with the import, each event applied exactly once.

    While a projection process is active, the import paces itself to it. With none, it
    starts its own, a process applying the events with the projection's catch-up: the
    read model then takes the import's other core instead of half its time. Either way
    the import runs at most LEAD batches ahead. Should that process fail, the import
    applies its events itself (without reading them back), every APPLY_EVERY.
    """

    def __init__(self, read_model: ReadModel, events: StoredEventLog, storage: Storage) -> None:
        self._read_model = read_model
        self._events = events
        self._storage = storage
        self._ahead: deque[int] = deque()  # positions written, the read model may lack
        self._unapplied: list[Notified] = []  # this import's, applied here
        self._beside: BaseProcess | None = None
        self._finishing = _SPAWN.Event()

    def start(self) -> None:
        if not self._projection_active():
            self._beside = _SPAWN.Process(
                target=apply_beside,
                args=(self._storage, self._finishing),
                name="outdial-import-projection",
                daemon=True,
            )
            self._beside.start()

    def close(self) -> None:
        self._stop_beside()

    def written(self, position: int, recorded: Sequence[Notified]) -> None:
        if self._projection_active() or self._beside_running():
            self._unapplied.clear()  # in the log: a projection applies them
            self._ahead.append(position)
            if len(self._ahead) > LEAD:
                self._wait_for(self._ahead.popleft())
        else:
            self._ahead.clear()
            self._unapplied.extend(recorded)
            if len(self._unapplied) >= APPLY_EVERY:
                self._apply()

    def finish(self) -> None:
        """Every batch written is in the read model when this returns (or a projection
        process that paces the import was given 60 s for it)."""
        self._stop_beside()
        if self._projection_active():
            if self._ahead:
                self._wait_for(self._ahead[-1])
        else:
            self._apply()  # what this process's own projection left, if anything
        self._ahead.clear()

    def _wait_for(self, position: int) -> None:
        deadline = time.monotonic() + 60
        while not self._read_model.wait_until_applied(position, timeout=0.5):
            if time.monotonic() > deadline:
                return
            if not (self._projection_active() or self._beside_running()):
                self._apply()  # nobody applies it any more: apply it here
                return

    def _apply(self) -> None:
        unapplied, self._unapplied = self._unapplied, []
        catch_up(self._events, self._read_model.view, unapplied, batch_size=APPLY_EVERY)

    def _projection_active(self) -> bool:
        status = self._read_model.status()
        return status is not None and status.active(time.time())

    def _beside_running(self) -> bool:
        return self._beside is not None and self._beside.is_alive()

    def _stop_beside(self) -> None:
        if self._beside is None:
            return
        self._finishing.set()
        self._beside.join(timeout=120)
        if self._beside.is_alive():
            self._beside.terminate()
            self._beside.join()
        self._beside = None


def apply_beside(storage: Storage, finishing: Any) -> None:
    """The import's own projection process: applies what the log holds until the import
    is finishing, then the rest. It stands aside while another projection is active, and
    a batch another applied meanwhile is refused whole, then read again."""
    with seldom_collected():
        _apply_until_finishing(storage, finishing)


def _apply_until_finishing(storage: Storage, finishing: Any) -> None:
    service = OutdialService(storage=storage)
    events = StoredEventLog(service)
    read_model = open_read_model(storage, events)
    try:
        while True:
            last_round = finishing.is_set()
            status = read_model.status()
            if status is None or not status.active(time.time()):
                with contextlib.suppress(IntegrityError):
                    catch_up(events, read_model.view, batch_size=APPLY_EVERY)
            if last_round:
                return
            events.wait_for_append(0.05)
    finally:
        read_model.close()
        events.close()
        service.close()


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


def _rows(
    file: TextIO, args: argparse.Namespace, slots: Slots, identify: Identity
) -> Iterator[NewTarget]:
    """The target of each valid row; bad rows are passed over (the check already refused
    them, or --skip-invalid lists them)."""
    for line, row in _lines(file):
        try:
            yield _target(row, line, args, slots, identify)
        except InvalidValue:
            continue


def _check(file: TextIO, args: argparse.Namespace, slots: Slots) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    valid = 0
    for line, row in _lines(file):
        try:
            # What _target checks, in its order; an id derived from a row never fails.
            _fields(row, slots)
            if args.keep_ids:
                _kept_id(row)
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


Fields = tuple[list[Address | None], str, str, str]


def _target(
    row: dict[str, Any], line: int, args: argparse.Namespace, slots: Slots, identify: Identity
) -> NewTarget:
    destinations, name, detail, data = _fields(row, slots)
    target_id = _kept_id(row) if args.keep_ids else identify(row, line)
    return NewTarget(destinations, name=name, detail=detail, data=data, id=target_id)


def _fields(row: dict[str, Any], slots: Slots) -> Fields:
    """The row's destinations and texts, checked; InvalidValue names the first bad one."""
    destinations: list[Address | None] = [None] * DESTINATION_SLOTS
    for slot in slots:
        destinations[slot.index] = _address(row, slot)
    if all(d is None for d in destinations):
        raise InvalidValue("destination_0", "at least one destination must be set")
    name = checked_name(row.get("name") or "")
    detail = checked_detail(row.get("detail") or "")
    data = checked_data(row.get("data") or "")
    return destinations, name, detail, data


def _kept_id(row: dict[str, Any]) -> UUID:
    try:
        return UUID(row.get("id") or "")
    except ValueError:
        raise InvalidValue("id", "is not a UUID") from None


Identity = Callable[[dict[str, Any], int], UUID]


def _identity(
    header: list[str], args: argparse.Namespace, exists: Callable[[UUID], bool]
) -> Identity:
    """A row's derived id: from the outdial, its line and the content of its known
    columns (in name order; a column the row lacks counts as None).

    The id is a UUIDv8 (RFC 9562) that sorts by outdial, then line: consecutive rows land
    side by side in every index keyed by id, where random ids would dirty a page each
    and cost a quarter of an import's time. An import begun before these ids existed
    (its first row's id a UUIDv5 of the same inputs) goes on with those.
    """
    known = sorted({c for c in header if c in KNOWN})
    outdial_id: UUID = args.outdial_id
    tag = int.from_bytes(hashlib.sha256(b"outdial-import/" + outdial_id.bytes).digest()[:4])

    def content(row: dict[str, Any]) -> bytes:
        text = "\x1f".join(f"{k}={row[k]}" for k in known)
        return text.encode("utf-8", "surrogatepass")

    def ordered(row: dict[str, Any], line: int) -> UUID:
        digest = hashlib.sha256(outdial_id.bytes + content(row)).digest()
        return UUID(int=sortable_id(tag, line, int.from_bytes(digest[:6]) >> 2))

    def earlier(row: dict[str, Any], line: int) -> UUID:
        return uuid5(outdial_id, f"import/{line}/{hashlib.sha256(content(row)).hexdigest()}")

    chosen: list[Identity] = []

    def identify(row: dict[str, Any], line: int) -> UUID:
        if not chosen:  # the first row tells
            chosen.append(earlier if exists(earlier(row, line)) else ordered)
        return chosen[0](row, line)

    return identify


def sortable_id(tag: int, line: int, rest: int) -> int:
    """A UUIDv8's 128 bits: a 32-bit tag, a 44-bit line number and 46 bits of the rest,
    around the version (8) and variant (0b10) bits, so that ids sort by tag, then line."""
    line &= (1 << 44) - 1
    return (
        (tag & 0xFFFF_FFFF) << 96
        | (line >> 28) << 80
        | 0x8 << 76
        | ((line >> 16) & 0xFFF) << 64
        | 0b10 << 62
        | (line & 0xFFFF) << 46
        | (rest & ((1 << 46) - 1))
    )


@dataclass(frozen=True)
class _Slot:
    """The columns of one destination slot that a file has."""

    index: int
    cell: str
    extras: tuple[tuple[str, str], ...]  # (address field, column)


Slots = tuple[_Slot, ...]


def _slots_of(header: list[str]) -> Slots:
    """The destination slots a header has columns for, each with the extra columns it
    has: a slot without columns is unset in every row, and most files have no extras."""
    present = set(header)
    slots = []
    for n in range(DESTINATION_SLOTS):
        cell = f"destination_{n}"
        extras = tuple((e, f"{cell}_{e}") for e in ADDRESS_EXTRAS if f"{cell}_{e}" in present)
        if cell in present or extras:
            slots.append(_Slot(n, cell, extras))
    return tuple(slots)


def _address(row: dict[str, Any], slot: _Slot) -> Address | None:
    """A cell as the spreadsheet holds it: an E.164 number, or ``type:target``."""
    cell = (row.get(slot.cell) or "").strip()
    extras = {extra: row.get(column) or "" for extra, column in slot.extras}
    field = slot.cell
    if not cell:
        if any(extras.values()):
            raise InvalidValue(field, "is empty but its other fields are not")
        return None
    if cell.startswith("+"):
        if not any(extras.values()) and is_e164(cell):
            # What Address.parse makes of a bare number, without its general checks:
            # most lists are numbers, and parsing was a third of an import's time.
            return Address(IMPLIED_TYPE, cell)
        return Address.parse({"target": cell, **extras}, field)
    kind, sep, target = cell.partition(":")
    raw = {"type": kind, "target": target} if sep else {"target": cell}
    return Address.parse({**raw, **extras}, field)


def _batches(rows: Iterator[NewTarget], size: int) -> Iterator[list[NewTarget]]:
    batch: list[NewTarget] = []
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
