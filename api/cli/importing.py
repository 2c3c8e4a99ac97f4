"""`outdial import OUTDIAL_ID FILE.csv`: a campaign list from a spreadsheet, as targets.

Every row is checked before anything is written (a first pass over the file, a big
file's second half in a second process; `api/cli/rows.py`, which also says how a file is
read: strict CSV, and the quote an export puts before a formula-like cell taken off); the
rows are then written a batch at a time, each batch one atomic write. A target's id
derives from the outdial and its row (line number and content), or with ``--keep-ids``
from the row's ``id`` column, and a batch writes only the rows not there yet, so an
interrupted import run again creates nothing twice. Both passes stream, so any number of
rows fits in constant memory. The import keeps the read model along (``Pace``): it runs
at most a few batches ahead of an active projection, or, with none running, of a
projection process of its own, so a serving `outdial serve` stays ready and sees the
targets soon.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.event_log import StoredEventLog
from adapters.library import unsynced_commits
from api.bootstrap import Services, bootstrap
from api.cli.collection import seldom_collected
from api.cli.rows import (
    KNOWN,
    Unreadable,
    check,
    header_of,
    identity,
    slots_of,
    targets_of,
)
from api.settings import Settings
from application.errors import REFUSALS, TargetNotFound
from application.service import BATCH_MAX, NewTarget
from domain.outdial import Outdial
from projections.events import Notified
from projections.rebuild import catch_up
from projections.runner import ReadModel

IMPORTER = "system:import"
SHOWN_PROBLEMS = 50  # bad rows listed at most, then a count


def import_targets(settings: Settings, args: argparse.Namespace) -> int:
    with seldom_collected():
        return _import_targets(settings, args)


def _import_targets(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"outdial import: no file {path}", file=sys.stderr)
        return 2
    with bootstrap(settings) as services:
        return _import_into(services, path, args)


def _import_into(services: Services, path: Path, args: argparse.Namespace) -> int:
    service, events, read_model = services.service, services.events, services.read_model
    pace = Pace(read_model, events, services.settings)
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
            try:
                with unsynced_commits(service.recorder):
                    identify = identity(header, args.outdial_id, imported)
                    rows = targets_of(file, keep_ids=args.keep_ids, slots=slots, identify=identify)
                    for batch in _batches(rows, args.batch_size):
                        try:
                            written = service.create_missing_targets(
                                customer, args.outdial_id, batch, actor=IMPORTER
                            )
                        except REFUSALS as error:
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

    def __init__(self, read_model: ReadModel, events: StoredEventLog, settings: Settings) -> None:
        self._read_model = read_model
        self._events = events
        self._settings = settings
        self._ahead: deque[int] = deque()  # positions written, the read model may lack
        self._unapplied: list[Notified] = []  # this import's, applied here
        self._beside: BaseProcess | None = None
        self._finishing = _SPAWN.Event()

    def start(self) -> None:
        if not self._projection_active():
            self._beside = _SPAWN.Process(
                target=apply_beside,
                args=(self._settings, self._finishing),
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


def apply_beside(settings: Settings, finishing: Any) -> None:
    """The import's own projection process: applies what the log holds until the import
    is finishing, then the rest. It stands aside while another projection is active, and
    a batch another applied meanwhile is refused whole, then read again."""
    with seldom_collected():
        _apply_until_finishing(settings, finishing)


def _apply_until_finishing(settings: Settings, finishing: Any) -> None:
    with bootstrap(settings) as services:
        events, read_model = services.events, services.read_model
        while True:
            last_round = finishing.is_set()
            status = read_model.status()
            if status is None or not status.active(time.time()):
                with contextlib.suppress(IntegrityError):
                    catch_up(events, read_model.view, batch_size=APPLY_EVERY)
            if last_round:
                return
            events.wait_for_append(0.05)


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
