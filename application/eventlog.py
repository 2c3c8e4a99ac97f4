"""The application's notification log as its readers (the projections) take it: each
notification decoded into the domain's own event by the application's mapper."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

from application.storage import AppendSignal

# Rows fetched at a time when streaming every aggregate's events.
STREAM_BATCH = 2_000


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
        with self._stored_by_aggregate(until) as rows:
            to_domain_event = self._app.mapper.to_domain_event
            yield (
                [to_domain_event(StoredEvent(*row)) for row in group]
                for _, group in itertools.groupby(rows, key=lambda row: row[0])
            )

    @contextmanager
    def _stored_by_aggregate(self, until: int) -> Iterator[Iterator[tuple[Any, ...]]]:
        """(originator id, version, topic, state) up to ``until``, by aggregate, streamed
        from the library's own events table (the recorder has no such query)."""
        recorder = self._app.recorder
        columns = "originator_id, originator_version, topic, state"
        if isinstance(recorder, PostgresApplicationRecorder):
            statement = SQL(
                f"SELECT {columns} FROM {{0}}.{{1}} WHERE notification_id <= %s "
                "ORDER BY originator_id, originator_version"
            ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
            with recorder.datastore.transaction(commit=False) as cursor:
                named = cursor.connection.cursor(name="outdial_aggregates")
                named.itersize = STREAM_BATCH
                named.execute(statement, (until,))
                yield (
                    tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in named
                )
            return
        assert isinstance(recorder, SQLiteApplicationRecorder)
        connection = sqlite3.connect(recorder.datastore.pool.db_name, uri=True)
        try:
            rows = connection.execute(
                f"SELECT {columns} FROM {recorder.events_table_name} WHERE rowid <= ? "
                "ORDER BY originator_id, originator_version",
                (until,),
            )
            rows.arraysize = STREAM_BATCH
            yield iter(rows)
        finally:
            connection.close()

    def close(self) -> None:
        self._signal.close()
