"""The import use cases: a campaign list's rows, each already checked, written as targets
a batch at a time, each batch one atomic write; and a do-not-call list's rows, written as
entries the same way.

A target's id derives from the outdial and its row (line number and content), or comes
from the row (``--keep-ids``), and a batch writes only the rows not there yet, so an
interrupted import run again creates nothing twice. The read model is kept along
(``ReadModelAlong``), so a running service sees the targets soon and stays ready.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid5

from application.errors import TargetNotFound
from application.service import NewEntry, NewTarget, OutdialService

IMPORTER = "system:import"

T = TypeVar("T")
Row = Mapping[Any, Any]  # a row's cells by column (a file's reader may add others)
# A row's id from the row and its line number.
Identity = Callable[[Row, int], UUID]


class ReadModelAlong(Protocol):
    """Keeps the read model along with an import (api/workers/import_projection.py)."""

    def written(self, position: int) -> None:
        """A batch was recorded up to ``position``; may wait, so that the import runs only
        a few batches ahead of the read model."""

    def finish(self) -> None:
        """Every batch recorded is in the read model when this returns."""


@dataclass(frozen=True)
class Imported:
    created: int
    already_there: int  # an earlier run's


def import_targets(
    service: OutdialService,
    customer_id: UUID,
    outdial_id: UUID,
    targets: Iterable[NewTarget],
    *,
    batch_size: int,
    along: ReadModelAlong,
    advance: Callable[[int], None] = lambda n: None,
) -> Imported:
    """Write ``targets`` (each with its id) a batch at a time, skipping those an earlier
    run wrote; a refusal (an id taken by another resource, the outdial deleted) stops it
    there, with what came before written."""
    created = already = 0
    try:
        for batch in _batches(targets, batch_size):
            written = service.create_missing_targets(customer_id, outdial_id, batch, actor=IMPORTER)
            created += len(written.value)
            already += len(batch) - len(written.value)
            if written.position is not None:
                along.written(written.position)
            advance(len(batch))
    finally:
        along.finish()
    return Imported(created, already)


def import_do_not_call(
    service: OutdialService,
    customer_id: UUID,
    entries: Iterable[NewEntry],
    *,
    batch_size: int,
    along: ReadModelAlong,
    advance: Callable[[int], None] = lambda n: None,
) -> int:
    """Add ``entries`` to the customer's list a batch at a time, each batch all or none.
    An entry's id follows from what it is, so a run again finds the entries an earlier
    run added and records nothing for those that are as the file says. Answers how many
    entries were written; a refusal stops it there, with what came before written."""
    written_entries = 0
    try:
        for batch in _batches(entries, batch_size):
            written = service.add_do_not_call(customer_id, batch, actor=IMPORTER)
            written_entries += len(batch)
            if written.position is not None:
                along.written(written.position)
            advance(len(batch))
    finally:
        along.finish()
    return written_entries


def identity(
    columns: Iterable[str], service: OutdialService, customer_id: UUID, outdial_id: UUID
) -> Identity:
    """A row's derived id: from the outdial, its line and the content of ``columns`` (in
    name order; a column the row lacks counts as None).

    The id is a UUIDv8 (RFC 9562) that sorts by outdial, then line: consecutive rows land
    side by side in every index keyed by id, where random ids would dirty a page each
    (benchmarks/findings.py). An import begun before these ids existed (its first row's
    id a UUIDv5 of the same inputs) goes on with those.
    """
    known = sorted(columns)
    tag = int.from_bytes(hashlib.sha256(b"outdial-import/" + outdial_id.bytes).digest()[:4])

    def content(row: Row) -> bytes:
        text = "\x1f".join(f"{k}={row.get(k)}" for k in known)  # None: the row lacks it
        return text.encode("utf-8", "surrogatepass")

    def ordered(row: Row, line: int) -> UUID:
        digest = hashlib.sha256(outdial_id.bytes + content(row)).digest()
        return UUID(int=sortable_id(tag, line, int.from_bytes(digest[:6]) >> 2))

    def earlier(row: Row, line: int) -> UUID:
        return uuid5(outdial_id, f"import/{line}/{hashlib.sha256(content(row)).hexdigest()}")

    def imported(target_id: UUID) -> bool:
        try:
            service.get_target(customer_id, outdial_id, target_id)
        except TargetNotFound:
            return False
        return True

    chosen: list[Identity] = []

    def identify(row: Row, line: int) -> UUID:
        if not chosen:  # the first row tells
            chosen.append(earlier if imported(earlier(row, line)) else ordered)
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


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
