"""The application's notification log as its readers (the projections) take it: each
notification decoded into the domain's own event by the application's mapper."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from application.storage import AppendSignal


class StoredEventLog:
    """Reads an application's stored events in notification order."""

    def __init__(self, app: Application[UUID]) -> None:
        self._app = app
        self._signal = AppendSignal(app.recorder)

    @property
    def name(self) -> str:
        return self._app.name

    def head(self) -> int:
        return self._app.recorder.max_notification_id() or 0

    def read(
        self, after: int, *, limit: int, until: int | None = None
    ) -> Sequence[tuple[int, Any]]:
        notifications = self._app.recorder.select_notifications(
            start=after, limit=limit, stop=until, inclusive_of_start=False
        )
        to_domain_event = self._app.mapper.to_domain_event
        return [(n.id, to_domain_event(n)) for n in notifications]

    def wait_for_append(self, timeout: float) -> None:
        self._signal.wait(timeout)

    def close(self) -> None:
        self._signal.close()
