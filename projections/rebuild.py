"""Rebuilding the read model: empty it and project every event again.

The same projection code as the live runner, so a rebuild gives exactly the rows that
incremental projection gives. The whole rebuild is one transaction: readers see the old
read model until the new one commits, a running projection waits and then carries on
from the rebuilt position, and an interrupted rebuild leaves the old read model intact.
"""

from __future__ import annotations

from collections.abc import Callable

from projections.applier import Handover, apply_next
from projections.events import EventLog, events_until
from projections.failures import EventNotApplied, describe, unreachable
from projections.projection import ReadModelProjection, apply_event
from projections.store import ReadModelView

# Events per transaction when catching up (and between a rebuild's progress reports).
BATCH = 500
# Events between a rebuild's write-outs: a row changed several times in one is written
# once, and each statement carries more rows (PostgreSQL's round trips: see
# benchmarks/findings.py), while what the transaction holds in memory stays bounded.
WRITE_OUT = 5_000

Progress = Callable[[int, int], None]  # (position reached, last position)


def rebuild(
    events: EventLog,
    view: ReadModelView,
    *,
    until: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Replace the view's rows with the projection of the events up to ``until`` (all by
    default); returns the number of events projected.

    An event that cannot be applied leaves the old read model as it was and raises
    EventNotApplied naming it. Rows are written out every WRITE_OUT events, so a failure
    while writing could be any event since the last write-out: the rebuild then runs
    again, writing out after every event from there, to find which.
    """
    reached = _Reached()
    try:
        return _rebuild(events, view, until, progress, reached, careful_after=None)
    except EventNotApplied:
        raise
    except Exception as error:
        if unreachable(error):
            raise
        careful_after = reached.written
    return _rebuild(events, view, until, progress, _Reached(), careful_after=careful_after)


class _Reached:
    """How far a rebuild got: the last event written out, and the last one applied."""

    def __init__(self) -> None:
        self.written = 0
        self.applied = 0


def _rebuild(
    events: EventLog,
    view: ReadModelView,
    until: int | None,
    progress: Progress | None,
    reached: _Reached,
    *,
    careful_after: int | None,
) -> int:
    def position() -> int:
        head = events.head()
        return head if until is None else min(until, head)

    done = 0
    with view.replacing(events.name, position) as (rows, last):
        notified = events_until(events, last)
        while True:
            try:
                found = next(notified, None)
            except Exception as error:  # an event that does not decode
                if unreachable(error):
                    raise
                stored = events.describe(reached.applied)
                at, aggregate_id, kind = stored or (reached.applied + 1, "?", "?")
                raise EventNotApplied(at, aggregate_id, kind, error) from error
            if found is None:
                break
            notification_id, event = found
            try:
                apply_event(event, rows)
                reached.applied = notification_id
                done += 1
                careful = careful_after is not None and notification_id > careful_after
                if careful or done % WRITE_OUT == 0:
                    rows.flush()  # what the transaction holds in memory stays bounded
                    reached.written = notification_id
            except Exception as error:
                if unreachable(error):
                    raise
                if careful_after is None and reached.applied == notification_id:
                    raise  # failed writing out a batch: the caller looks closer
                raise EventNotApplied(notification_id, *describe(event), error) from error
            if done % BATCH == 0 and progress is not None:
                progress(notification_id, last)
    if progress is not None:
        progress(last, last)
    return done


def catch_up(
    events: EventLog,
    view: ReadModelView,
    *,
    batch_size: int = BATCH,
    handover: Handover | None = None,
) -> int:
    """Project the events after the view's position, a batch per transaction, up to the
    log's head; returns how many. Each transaction names the position it follows, so
    nothing another projection applied meanwhile is applied twice (it is refused whole,
    IntegrityError)."""
    projection = ReadModelProjection(view)
    done = 0
    after = view.max_tracking_id(events.name) or 0
    head = events.head()
    while after < head:
        applied = apply_next(projection, events, after, limit=batch_size, handover=handover)
        if applied is None:
            break
        done += applied.count
        after = applied.position
    return done
