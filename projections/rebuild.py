"""Rebuilding the read model: empty it and project every event again.

The same projection code as the live runner, so a rebuild gives exactly the rows that
incremental projection gives. The whole rebuild is one transaction: readers see the old
read model until the new one commits, a running projection waits and then carries on
from the rebuilt position, and an interrupted rebuild leaves the old read model intact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import Tracking

from projections.events import EventLog, events_until
from projections.projection import ReadModelProjection, apply_event
from projections.views import ReadModelView

# Events per transaction when catching up, and per write-out within a rebuild.
BATCH = 500

Progress = Callable[[int, int], None]  # (position reached, last position)


def rebuild(
    events: EventLog,
    view: ReadModelView,
    *,
    until: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Replace the view's rows with the projection of the events up to ``until`` (all by
    default); returns the number of events projected."""

    def position() -> int:
        head = events.head()
        return head if until is None else min(until, head)

    done = 0
    with view.replacing(events.name, position) as (rows, last):
        for notification_id, event in events_until(events, last):
            apply_event(event, rows)
            done += 1
            if done % BATCH == 0:
                rows.flush()  # what the transaction holds in memory stays bounded
                if progress is not None:
                    progress(notification_id, last)
    if progress is not None:
        progress(last, last)
    return done


def catch_up(events: EventLog, view: ReadModelView) -> int:
    """Project the events after the view's position, a batch per transaction."""
    projection = ReadModelProjection(view)
    done = 0
    batch: list[Any] = []
    position = after = view.max_tracking_id(events.name) or 0
    for position, event in events_until(events, events.head(), after=after):
        batch.append(event)
        if len(batch) == BATCH:
            projection.process_events(batch, Tracking(events.name, position), after=after)
            done += len(batch)
            batch, after = [], position
    if batch:
        projection.process_events(batch, Tracking(events.name, position), after=after)
        done += len(batch)
    return done
