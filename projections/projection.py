"""The read-model projection: each event of the application, applied exactly once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.outdial import Outdial
from domain.target import Target
from projections.outdials import outdial_changed, outdial_created
from projections.readmodel import ReadModelView, Rows
from projections.targets import dial_finished, dial_started, target_created, target_deleted

E = TypeVar("E")


class ReadModelProjection(Projection[ReadModelView]):
    """Outdials, targets and dials tables, with tracking written in the same transaction."""

    # Pinned: it names the projection's environment prefix and PostgreSQL tracking table.
    name = "readmodel"
    topics = ()  # every event: read-your-writes waits may name any notification id

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events the read model does not show still move its position."""
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, domain_event: Target.Created, tracking: Tracking) -> None:
        self._apply(target_created, domain_event, tracking)

    @process_event.register
    def _(self, domain_event: Target.DialStarted, tracking: Tracking) -> None:
        self._apply(dial_started, domain_event, tracking)

    @process_event.register
    def _(self, domain_event: Target.DialFinished, tracking: Tracking) -> None:
        self._apply(dial_finished, domain_event, tracking)

    @process_event.register
    def _(self, domain_event: Target.Deleted, tracking: Tracking) -> None:
        self._apply(target_deleted, domain_event, tracking)

    @process_event.register
    def _(self, domain_event: Outdial.Created, tracking: Tracking) -> None:
        self._apply(outdial_created, domain_event, tracking)

    @process_event.register
    def _(self, domain_event: Outdial.Event, tracking: Tracking) -> None:
        self._apply(outdial_changed, domain_event, tracking)

    def _apply(self, write: Callable[[Rows, E], None], event: E, tracking: Tracking) -> None:
        with self.view.tracked(tracking) as rows:
            write(rows, event)
