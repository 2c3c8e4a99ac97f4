"""The read model versus the replay of the events, field by field.

Aggregates are rebuilt by the domain's own event classes from the notification log up to
the read model's position, and read-model rows are read in the same snapshot, so a
projection that is merely behind is not reported as wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import CanMutateAggregate

from domain.outdial import Outdial
from domain.target import Target
from projections.readmodel import COLUMNS, ReadModelView, Row
from projections.rows import dial_row, outdial_row, target_row

PAGE = 1_000


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


def verify(app: Application[UUID], view: ReadModelView) -> tuple[int, list[Difference]]:
    """Compare every row with the replayed aggregates; returns (position, differences)."""
    with view.reading() as rows:
        position = view.tracking_position(rows, app.name) or 0
        actual = {
            table: {r["id"]: r for r in rows.select(f"SELECT * FROM {table}", {})}
            for table in COLUMNS
        }
    aggregates = replay_all(app, position)
    expected: dict[str, dict[str, Row]] = {table: {} for table in COLUMNS}
    for aggregate in aggregates.values():
        if isinstance(aggregate, Target):
            expected["targets"][str(aggregate.id)] = target_row(aggregate)
            for dial in aggregate.dials.values():
                expected["dials"][str(dial.id)] = dial_row(
                    dial,
                    customer_id=aggregate.customer_id,
                    outdial_id=aggregate.outdial_id,
                    target_id=aggregate.id,
                )
        elif isinstance(aggregate, Outdial):
            expected["outdials"][str(aggregate.id)] = outdial_row(aggregate)
    differences = [d for table in COLUMNS for d in _compare(table, expected[table], actual[table])]
    return position, differences


def replay_all(app: Application[UUID], until: int) -> dict[UUID, Any]:
    """Every aggregate as of notification ``until``, rebuilt from the stored events."""
    aggregates: dict[UUID, Any] = {}
    for _, event in events_until(app, until):
        aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))
    return aggregates


def events_until(
    app: Application[UUID], until: int, after: int = 0
) -> Iterator[tuple[int, CanMutateAggregate[UUID]]]:
    """(notification id, domain event) after position ``after`` up to ``until``."""
    start = after
    while start < until:
        page = app.recorder.select_notifications(
            start=start, limit=PAGE, stop=until, inclusive_of_start=False
        )
        if not page:
            return
        for notification in page:
            event = app.mapper.to_domain_event(notification)
            yield notification.id, event  # type: ignore[misc]
        start = page[-1].id


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
