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

from application.service import OutdialService
from application.storage import Storage
from projections.projection import ReadModelProjection, apply_event
from projections.readmodel import ReadModelView
from projections.runner import open_view, read_model_env
from projections.verify import events_until

# Events per transaction when catching up: one commit per batch instead of per event.
BATCH = 500
# How often a rebuild reports its progress, in events.
PROGRESS_EVERY = 500

Progress = Callable[[int, int], None]  # (position reached, last position)


def rebuild(
    storage: Storage,
    *,
    until: int | None = None,
    into: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Project every event up to ``until`` (all by default) into a fresh read model.

    ``into`` builds it somewhere else (a SQLite path or a PostgreSQL URL), leaving the
    live read model alone: the read model as it was at an earlier position, for debugging.
    Returns the number of events projected.
    """
    env = read_model_env(storage, into)
    app = OutdialService(env)
    view = open_view(env)
    try:
        return project_into(app, view, until=until, progress=progress)
    finally:
        app.close()


def project_into(
    app: OutdialService,
    view: ReadModelView,
    *,
    until: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Replace the view's rows with the projection of the events up to ``until``."""

    def position() -> int:
        head = app.recorder.max_notification_id() or 0
        return head if until is None else min(until, head)

    done = 0
    with view.replacing(app.name, position) as (rows, last):
        for notification_id, event in events_until(app, last):
            apply_event(event, rows)
            done += 1
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(notification_id, last)
    if progress is not None:
        progress(last, last)
    return done


def catch_up(app: OutdialService, view: ReadModelView) -> int:
    """Project the events after the view's position, a batch per transaction."""
    projection = ReadModelProjection(view)
    done = 0
    batch: list[Any] = []
    after = view.max_tracking_id(app.name) or 0
    last = app.recorder.max_notification_id() or 0
    for position, event in events_until(app, last, after=after):
        batch.append(event)
        if len(batch) == BATCH:
            projection.process_events(batch, Tracking(app.name, position))
            done += len(batch)
            batch = []
    if batch:
        projection.process_events(batch, Tracking(app.name, position))
        done += len(batch)
    return done
