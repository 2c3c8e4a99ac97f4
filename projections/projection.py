"""The read-model projection: each event of the application, applied exactly once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import singledispatch
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.do_not_call import DoNotCallEntry
from domain.erasure import Erasure
from domain.outdial import Outdial
from domain.target import Target
from projections.do_not_call import entry_added, entry_changed, entry_removed
from projections.erasures import erasure_recorded
from projections.outdials import outdial_changed, outdial_created
from projections.rows import ChangedRows
from projections.store import VIEW_NAME, NotWithin, ReadModelView
from projections.targets import (
    dial_finished,
    dial_started,
    target_created,
    target_deleted,
    targets_created,
)


class ReadModelProjection(Projection[ReadModelView]):
    """Outdials, targets, dials and do-not-call tables, with tracking written in the same
    transaction."""

    name = VIEW_NAME
    topics = ()  # every event: read-your-writes waits may name any notification id

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as rows:
            apply_event(domain_event, rows)

    def process_events(
        self, domain_events: Sequence[Any], tracking: Tracking, *, after: int | None = None
    ) -> None:
        """Consecutive events in one transaction, tracked at the last one; ``after`` is
        the position they follow, checked in the same transaction."""
        with self.view.tracked(tracking, after=after) as rows:
            apply_events(domain_events, rows)

    def process_within(
        self, cursor: Any, domain_events: Sequence[Any], tracking: Tracking, *, after: int
    ) -> None:
        """As ``process_events``, in another writer's transaction (``cursor``); an erasure
        is refused before anything is written (NotWithin): its keys are destroyed and the
        store scrubbed once its own transaction commits (ReadModelView.tracked)."""
        if any(isinstance(event, Erasure.Recorded) for event in domain_events):
            raise NotWithin("an erasure is applied in a transaction of its own")
        with self.view.tracked_within(cursor, tracking, after) as rows:
            apply_events(domain_events, rows)


def apply_events(domain_events: Iterable[Any], rows: ChangedRows) -> None:
    """Each event as ``apply_event`` applies it, but a run of consecutive new targets (an
    import's batch) goes out as one statement: per-event Python was most of its cost."""
    created: list[Target.Created] = []
    for domain_event in domain_events:
        if isinstance(domain_event, Target.Created):
            created.append(domain_event)
            continue
        if created:
            targets_created(rows, created)
            created = []
        apply_event(domain_event, rows)
    if created:
        targets_created(rows, created)


# The writers are looked up by name at call time, so each stays one module-level function.
@singledispatch
def apply_event(event: Any, rows: ChangedRows) -> None:
    """Events the read model does not show still move its position (tracked by the caller)."""


@apply_event.register
def _(event: Target.Created, rows: ChangedRows) -> None:
    target_created(rows, event)


@apply_event.register
def _(event: Target.DialStarted, rows: ChangedRows) -> None:
    dial_started(rows, event)


@apply_event.register
def _(event: Target.DialFinished, rows: ChangedRows) -> None:
    dial_finished(rows, event)


@apply_event.register
def _(event: Target.Deleted, rows: ChangedRows) -> None:
    target_deleted(rows, event)


@apply_event.register
def _(event: Outdial.Created, rows: ChangedRows) -> None:
    outdial_created(rows, event)


@apply_event.register
def _(event: Outdial.Event, rows: ChangedRows) -> None:
    outdial_changed(rows, event)


@apply_event.register
def _(event: DoNotCallEntry.Added, rows: ChangedRows) -> None:
    entry_added(rows, event)


@apply_event.register
def _(event: DoNotCallEntry.Changed, rows: ChangedRows) -> None:
    entry_changed(rows, event)


@apply_event.register
def _(event: DoNotCallEntry.Removed, rows: ChangedRows) -> None:
    entry_removed(rows, event)


@apply_event.register
def _(event: Erasure.Recorded, rows: ChangedRows) -> None:
    erasure_recorded(rows, event)
