"""The application's notification log as its readers (the projections) take it: each
notification decoded into the domain's own event by the application's mapper."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from adapters.append_signal import AppendSignal
from adapters.library import WakingPostgresApplicationRecorder, WakingSQLiteApplicationRecorder
from adapters.stores import Storage
from application.sealing import read_ahead

# Stored events whose targets' keys are fetched together while reading every aggregate.
READ_AHEAD_WINDOW = 2_000


class StoredEventLog:
    """Reads an application's stored events in notification order."""

    def __init__(self, app: Application[UUID], storage: Storage) -> None:
        self._app = app
        self._signal = AppendSignal(app.recorder, storage)

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
        read_ahead(self._app.mapper, notifications)
        to_domain_event = self._app.mapper.to_domain_event
        return [(n.id, to_domain_event(n)) for n in notifications]

    def describe(self, after: int) -> tuple[int, str, str] | None:
        found = self._app.recorder.select_notifications(
            start=after, limit=1, inclusive_of_start=False
        )
        if not found:
            return None
        return found[0].id, str(found[0].originator_id), found[0].topic

    def wait_for_append(self, timeout: float) -> None:
        self._signal.wait(timeout)

    def wake(self) -> None:
        self._signal.wake()

    @property
    def reachable(self) -> bool:
        """False while the store's server cannot be reached (PostgreSQL)."""
        return self._signal.reachable

    @contextmanager
    def aggregates(self, until: int) -> Iterator[Iterator[list[Any]]]:
        recorder = self._app.recorder
        if not isinstance(
            recorder, WakingSQLiteApplicationRecorder | WakingPostgresApplicationRecorder
        ):
            msg = "reading every aggregate needs the embedded store or PostgreSQL"
            raise TypeError(msg)
        with recorder.stored_by_aggregate(until) as stored:
            to_domain_event = self._app.mapper.to_domain_event
            ahead = self._read_ahead(stored)
            yield (
                [to_domain_event(event) for event in group]
                for _, group in itertools.groupby(ahead, key=lambda event: event.originator_id)
            )

    def _read_ahead(self, stored: Iterator[StoredEvent]) -> Iterator[StoredEvent]:
        """The same events, each window of them preceded by one fetch of its keys."""
        while window := list(itertools.islice(stored, READ_AHEAD_WINDOW)):
            read_ahead(self._app.mapper, window)
            yield from window

    def close(self) -> None:
        self._signal.close()
