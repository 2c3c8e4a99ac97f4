"""The read model versus the replay of the events, field by field.

The rows an aggregate should have are derived here from the domain's own aggregates, the
one interpretation of events besides the projection itself; verify holds the two against
each other.

Aggregates are rebuilt by the domain's own event classes from the notification log up to
the read model's position, and read-model rows are read in the same snapshot, so a
projection that is merely behind is not reported as wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from domain.outdial import Outdial
from domain.plan import DESTINATION_SLOTS
from domain.target import Dial, Target
from domain.timeline import format_timestamp
from projections.events import EventLog, events_until
from projections.schema import COLUMNS, DIALS, OUTDIALS, TARGETS, Row, to_json
from projections.views import ReadModelView


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
    with view.reading() as rows:
        position = view.tracking_position(rows, events.name) or 0
        actual = {
            table: {r["id"]: r for r in rows.select(f"SELECT * FROM {table}", {})}
            for table in COLUMNS
        }
    expected: dict[str, dict[str, Row]] = {table: {} for table in COLUMNS}
    for aggregate in replay_all(events, position).values():
        if isinstance(aggregate, Target):
            expected[TARGETS][str(aggregate.id)] = target_row(aggregate)
            for dial in aggregate.dials.values():
                expected[DIALS][str(dial.id)] = dial_row(dial, aggregate)
        elif isinstance(aggregate, Outdial):
            expected[OUTDIALS][str(aggregate.id)] = outdial_row(aggregate)
    differences = [d for table in COLUMNS for d in _compare(table, expected[table], actual[table])]
    return position, differences


def replay_all(events: EventLog, until: int) -> dict[UUID, Any]:
    """Every aggregate as of notification ``until``, rebuilt from the stored events."""
    aggregates: dict[UUID, Any] = {}
    for _, event in events_until(events, until):
        aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))
    return aggregates


# -- the rows an aggregate's state should have -------------------------------------------


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
    }
    for n in range(DESTINATION_SLOTS):
        row[f"destination_{n}"] = to_json(target.destinations[n])
        row[f"try_count_{n}"] = target.try_counts[n]
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
    if isinstance(value, str) and value[:1] == "{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
