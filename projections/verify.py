"""The read model versus the replay of the events, field by field.

The rows an aggregate should have are derived here from the domain's own aggregates, the
one interpretation of events besides the projection itself; verify holds the two against
each other.

Aggregates are rebuilt by the domain's own event classes from the notification log up to
the read model's position, and read-model rows are read in the same snapshot, so a
projection that is merely behind is not reported as wrong. The outdials' zone sets are
held against the zone keys of the replayed targets once every aggregate has been read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from domain.do_not_call import DoNotCallEntry
from domain.erasure import Erasure
from domain.outdial import Outdial
from domain.plan import DESTINATION_SLOTS
from domain.target import Dial, Target
from domain.timeline import format_timestamp
from projections.do_not_call import expiry
from projections.events import EventLog
from projections.rows import Rows
from projections.schema import (
    COLUMNS,
    DIALS,
    DO_NOT_CALL,
    ERASED_TARGETS,
    ERASURES,
    OUTDIALS,
    PREFIX_LENGTHS,
    TARGET_ADDRESSES,
    TARGETS,
    ZONE_SETS,
    Row,
    key_of,
    to_json,
    zones_json,
)
from projections.store import ReadModelView
from projections.targets import address_of, addresses_of, zone_set_members, zones_of


@dataclass(frozen=True)
class Difference:
    table: str
    row_id: str
    field: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        if self.field == "*":
            return f"{self.table} {self.row_id}: expected {self.expected}, found {self.actual}"
        return (
            f"{self.table} {self.row_id} {self.field}: expected {self.expected!r}, "
            f"read model has {self.actual!r}"
        )


def verify(events: EventLog, view: ReadModelView) -> tuple[int, list[Difference]]:
    """Compare every row with the replayed aggregates; returns (position, differences)."""
    with verifying(events, view) as (position, differences):
        return position, list(differences)


@contextmanager
def verifying(events: EventLog, view: ReadModelView) -> Iterator[tuple[int, Iterator[Difference]]]:
    """The read model's position and its differences from the replay, found as they are
    read: aggregates and rows are both streamed in id order and merged, so memory stays
    constant whatever the number of targets."""
    with view.reading() as rows:
        position = view.tracking_position(rows, events.name) or 0
        with events.aggregates(position) as histories:
            yield position, _merged(histories, rows)


def _merged(histories: Iterator[list[Any]], rows: Rows) -> Iterator[Difference]:
    outdials = _Sorted(OUTDIALS, rows.stream(OUTDIALS, ("id",)), "id")
    targets = _Sorted(TARGETS, rows.stream(TARGETS, ("id",)), "id")
    dials = _Sorted(DIALS, rows.stream(DIALS, ("outdial_target_id", "id")), "outdial_target_id")
    entries = _Sorted(DO_NOT_CALL, rows.stream(DO_NOT_CALL, ("id",)), "id")
    addresses = _Sorted(
        TARGET_ADDRESSES,
        rows.stream(TARGET_ADDRESSES, ("target_id", "address")),
        "target_id",
        row_id="address",
    )
    erasures = _Sorted(ERASURES, rows.stream(ERASURES, ("id",)), "id")
    erased = _Sorted(
        ERASED_TARGETS,
        rows.stream(ERASED_TARGETS, ("erasure_id", "target_id")),
        "erasure_id",
        row_id="target_id",
    )
    tables = (outdials, targets, dials, entries, addresses, erasures, erased)
    zone_sets: set[tuple[Any, ...]] = set()
    erased_in: set[str] = set()  # outdials with erased targets: their zone sets may hold more
    prefix_lengths: set[tuple[str, int]] = set()
    for history in histories:
        aggregate: Any = None
        for event in history:
            aggregate = event.mutate(aggregate)
        key = str(aggregate.id)
        for table in tables:
            yield from (_extra(table.name, row) for row in table.before(key))
        if isinstance(aggregate, Target):
            row = target_row(aggregate)
            yield from _compare(TARGETS, {key: row}, targets.take(key))
            expected = {str(d.id): dial_row(d, aggregate) for d in aggregate.dials.values()}
            yield from _compare(DIALS, expected, dials.take(key))
            zone_sets |= zone_set_members(row)
            if getattr(history[0], "erased", False):  # read without its key: erased
                erased_in.add(row["outdial_id"])
            held = {a: {"address": a, "target_id": key} for a in addresses_of(row)}
            yield from _compare(TARGET_ADDRESSES, held, addresses.take(key))
        elif isinstance(aggregate, Outdial):
            yield from _compare(OUTDIALS, {key: outdial_row(aggregate)}, outdials.take(key))
        elif isinstance(aggregate, Erasure):
            yield from _compare(ERASURES, {key: erasure_row(aggregate)}, erasures.take(key))
            named = {str(i): {"erasure_id": key, "target_id": str(i)} for i in aggregate.target_ids}
            yield from _compare(ERASED_TARGETS, named, erased.take(key))
        elif isinstance(aggregate, DoNotCallEntry):
            yield from _compare(DO_NOT_CALL, {key: entry_row(aggregate)}, entries.take(key))
            if aggregate.match == "prefix":
                prefix_lengths.add((str(aggregate.customer_id), len(aggregate.target)))
    for table in tables:
        yield from (_extra(table.name, row) for row in table.rest())
    yield from _compare_set(
        ZONE_SETS,
        zone_sets,
        rows.stream(ZONE_SETS, ("outdial_id",)),
        extra_allowed=lambda member: member[0] in erased_in,
    )
    yield from _compare_set(
        PREFIX_LENGTHS, prefix_lengths, rows.stream(PREFIX_LENGTHS, ("customer_id",))
    )


def _compare_set(
    table: str,
    expected: set[tuple[Any, ...]],
    found: Iterator[Row],
    *,
    extra_allowed: Callable[[tuple[Any, ...]], bool] = lambda _: False,
) -> Iterator[Difference]:
    """A table of members (an outdial's zone keys, a customer's prefix lengths) holds
    exactly those of the aggregates replayed, and those ``extra_allowed`` says may stay
    (an erasure leaves its outdial's zone keys that no target has now)."""
    for row in found:
        member = tuple(row.values())
        if member in expected:
            expected.discard(member)
        elif not extra_allowed(member):
            yield Difference(table, " ".join(map(str, member)), "*", "no row", "a row")
    for member in sorted(expected):
        yield Difference(table, " ".join(map(str, member)), "*", "a row", "none")


class _Sorted:
    """Rows of one table in the order of ``column``, read as the merge moves on."""

    def __init__(self, name: str, rows: Iterator[Row], column: str, *, row_id: str = "id") -> None:
        self.name = name
        self._rows = rows
        self._column = column
        self._row_id = row_id
        self._next: Row | None = next(rows, None)

    def _advance(self) -> Row:
        assert self._next is not None
        row, self._next = self._next, next(self._rows, None)
        return row

    def before(self, key: str) -> Iterator[Row]:
        """Rows sorted before ``key``: no aggregate of that id exists."""
        while self._next is not None and self._next[self._column] < key:
            yield self._advance()

    def take(self, key: str) -> dict[str, Row]:
        """The rows whose column is ``key``, by their own id."""
        taken: dict[str, Row] = {}
        while self._next is not None and self._next[self._column] == key:
            row = self._advance()
            taken[row[self._row_id]] = row
        return taken

    def rest(self) -> Iterator[Row]:
        while self._next is not None:
            yield self._advance()


def _extra(table: str, row: Row) -> Difference:
    return Difference(table, " ".join(str(row[c]) for c in key_of(table)), "*", "no row", "a row")


# -- the rows an aggregate's state should have -------------------------------------------


def erasure_row(erasure: Erasure) -> Row:
    return {
        "id": str(erasure.id),
        "customer_id": str(erasure.customer_id),
        "outdial_id": str(erasure.outdial_id),
        "target_ids": json.dumps([str(i) for i in erasure.target_ids]),
        "count": erasure.count,
        "reason": erasure.reason,
        "actor": erasure.actor,
        "tm_create": format_timestamp(erasure.created_on),
    }


def outdial_row(outdial: Outdial) -> Row:
    return {
        "id": str(outdial.id),
        "customer_id": str(outdial.customer_id),
        "campaign_id": str(outdial.campaign_id),
        "name": outdial.name,
        "detail": outdial.detail,
        "data": outdial.data,
        "plan": to_json(outdial.plan),
        "tm_create": format_timestamp(outdial.created_on),
        "tm_update": format_timestamp(outdial.modified_on),
        "tm_delete": format_timestamp(outdial.deleted_at),
        "version": outdial.version,
        "status": outdial.status,
        "calling_window": to_json(outdial.calling_window),
    }


def target_row(target: Target) -> Row:
    row: Row = {
        "id": str(target.id),
        "customer_id": str(target.customer_id),
        "outdial_id": str(target.outdial_id),
        "name": target.name,
        "detail": target.detail,
        "data": target.data,
        "status": target.status,
        "tm_create": format_timestamp(target.created_on),
        "tm_update": format_timestamp(target.modified_on),
        "tm_delete": format_timestamp(target.deleted_at),
        "version": target.version,
        "dial_in_flight": None if target.dial_in_flight is None else str(target.dial_in_flight),
        "last_dial_end": (
            None
            if target.last_dial_ended_at is None
            else format_timestamp(target.last_dial_ended_at)
        ),
        "succeeded": int(target.succeeded),
        "closed": sum(1 << n for n in target.closed_destinations),
        "finished": int(target.finished_by is not None),
        "retry_at": None if target.retry_at is None else format_timestamp(target.retry_at),
    }
    for n in range(DESTINATION_SLOTS):
        row[f"destination_{n}"] = to_json(target.destinations[n])
        row[f"try_count_{n}"] = target.try_counts[n]
        row[f"address_{n}"] = address_of(target.destinations[n])
        row[f"zones_{n}"] = zones_of(target.destinations[n])
    return row


def dial_row(dial: Dial, target: Target) -> Row:
    ended = dial.ended_at
    return {
        "id": str(dial.id),
        "customer_id": str(target.customer_id),
        "outdial_id": str(target.outdial_id),
        "outdial_target_id": str(target.id),
        "destination_index": dial.destination_index,
        "destination": to_json(dial.destination),
        "destination_target": dial.destination.target,
        "try_count": dial.try_count,
        "reference_id": dial.reference_id,
        "status": "progressing" if ended is None else "done",
        "result": dial.result,
        "reason": dial.reason,
        "plan": to_json(dial.plan),
        "tm_start": format_timestamp(dial.started_at),
        "tm_end": None if ended is None else format_timestamp(ended),
        "duration_ms": None
        if ended is None
        else (ended - dial.started_at) // timedelta(milliseconds=1),
        "timeout_at": format_timestamp(
            dial.started_at + timedelta(milliseconds=dial.plan.dial_timeout)
        ),
        "timed_out": int(dial.timed_out),
        "late": int(dial.late),
        "actor": dial.actor,
        "manual": int(dial.manual),
        "time_zones": zones_json(dial.time_zones),
    }


def entry_row(entry: DoNotCallEntry) -> Row:
    return {
        "id": str(entry.id),
        "customer_id": str(entry.customer_id),
        "target": entry.target,
        "match": entry.match,
        "outdial_id": str(entry.outdial_id),
        "reason": entry.reason,
        "expires_at": expiry(entry.expires_at),
        "actor": entry.actor,
        "tm_create": format_timestamp(entry.created_on),
        "tm_update": format_timestamp(entry.modified_on),
        "tm_delete": format_timestamp(entry.removed_at),
        "version": entry.version,
    }


def _compare(table: str, expected: dict[str, Row], actual: dict[str, Row]) -> Iterator[Difference]:
    for row_id in sorted(expected.keys() | actual.keys()):
        want, have = expected.get(row_id), actual.get(row_id)
        if have is None:
            yield Difference(table, row_id, "*", "a row", "none")
        elif want is None:
            yield Difference(table, row_id, "*", "no row", "a row")
        else:
            for field in COLUMNS[table]:
                if _normal(want[field]) != _normal(have[field]):
                    yield Difference(table, row_id, field, want[field], have[field])


def _normal(value: Any) -> Any:
    """JSON text compares by content, not by spelling."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
