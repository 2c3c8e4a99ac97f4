"""The read model's store as the projections use it: tables written with the tracking
position in one transaction, the status row of the active projection, the store's
secrets, and reads. Each store (adapters/read_model_store.py) says only how a
transaction starts and where the library keeps tracking; what is written is the same
SQL on both."""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder

from projections.rows import ChangedRows, Erased, PlaceholderStyle, Rows
from projections.schema import COLUMNS, SECRETS, STATUS, Row

# Pinned: the view is configured by READMODEL_* settings, and on PostgreSQL its tracking
# table is readmodel_tracking; a rename would orphan the stored position.
VIEW_NAME = "readmodel"
# Rows a rebuild keeps in memory once written out: a target's later events usually come
# soon after its first, and are then applied without reading its row back.
REBUILD_REMEMBERED = 10_000


class NotWithin(Exception):
    """Events that must be applied in a transaction of the read model's own."""


class ReadModelView(TrackingRecorder, ABC):
    """The read model's store: its tables plus the library's tracking table.

    The two stores differ only in how a write transaction starts and where tracking
    lives; everything written through a view is the same SQL on both.
    """

    placeholders: PlaceholderStyle
    # Told each erasure the view applies, before its transaction commits: whatever holds
    # the targets' personal data outside the read model forgets it there (their keys,
    # idempotency answers); api/bootstrap.py plugs it in. Told again on a re-apply.
    on_erasure: Callable[[Erased], None] = staticmethod(lambda _: None)

    def scrub(self) -> None:
        """After a transaction that blanked rows: leave no older copy of their pages in
        the store's files (SQLite's write-ahead log); nothing to do elsewhere."""

    def refresh_statistics(self) -> None:
        """After a bulk load: the query planner's statistics of the read model's tables,
        so the next reads are planned for the rows there now (PostgreSQL; SQLite's
        queries name their indexes)."""

    @property
    @abstractmethod
    def tracking_table(self) -> str:
        """The library's tracking table of this store."""

    @abstractmethod
    @contextmanager
    def _writing(self) -> Iterator[Any]:
        """A write transaction (a cursor), committed when the block ends without error."""

    @abstractmethod
    def _lock_tracking(self, cursor: Any) -> None:
        """Keep runners from recording a position until this transaction ends."""

    @abstractmethod
    def _record_position(self, cursor: Any, tracking: Tracking) -> None:
        """Record ``tracking`` in the transaction of ``cursor``; IntegrityError unless it
        is past the position recorded."""

    @abstractmethod
    @contextmanager
    def reading(self) -> Iterator[Rows]:
        """A read-only transaction: one snapshot for several statements (verify)."""

    @abstractmethod
    def query(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        """One read statement, outside any transaction, on a connection that only reads."""

    @abstractmethod
    def close(self) -> None: ...

    @contextmanager
    def tracked(self, tracking: Tracking, *, after: int | None = None) -> Iterator[ChangedRows]:
        """One transaction that writes view rows and records ``tracking``.

        The tracking insert refuses a position that is not past the recorded one, so an
        event is applied exactly once: a replayed event rolls the whole transaction back.
        A batch of events names the position it follows (``after``): the transaction is
        refused unless the read model is still there, so no event of the batch that a
        rebuild meanwhile projected is applied twice.
        """
        with self._writing() as cursor:
            with self._tracked_on(cursor, tracking, after) as rows:
                yield rows
            for erased in rows.erased:
                self.on_erasure(erased)
        if rows.erased:
            self.scrub()

    @contextmanager
    def tracked_within(self, cursor: Any, tracking: Tracking, after: int) -> Iterator[ChangedRows]:
        """As ``tracked``, in the transaction of another writer's ``cursor`` on the same
        database (the event store's, on PostgreSQL); an erasure is refused (NotWithin),
        since its keys are destroyed and its pages scrubbed in a transaction of its own."""
        with self._tracked_on(cursor, tracking, after) as rows:
            yield rows
            if rows.erased:
                raise NotWithin("an erasure is applied in a transaction of its own")

    @contextmanager
    def _tracked_on(
        self, cursor: Any, tracking: Tracking, after: int | None
    ) -> Iterator[ChangedRows]:
        rows = ChangedRows(cursor, self.placeholders)
        if after is not None:
            self._lock_tracking(cursor)
            found = self.tracking_position(rows, tracking.application_name) or 0
            if found != after:
                msg = f"the read model is at {found}, not at {after}: read it again"
                raise IntegrityError(msg)
        self._record_position(cursor, tracking)
        yield rows
        rows.flush()

    @contextmanager
    def replacing(
        self, application_name: str, position: Callable[[], int]
    ) -> Iterator[tuple[ChangedRows, int]]:
        """One transaction that empties the read model, records ``position()`` as its new
        position, and lets the caller write every row again up to it (a rebuild).

        ``position`` is asked once the write lock is held, so no runner can have applied
        an event past it: a runner waiting on the lock then finds its next position either
        refused (and restarts from the rebuilt one) or next in line. Readers see the old
        read model until the new one commits; interrupted, it rolls back whole.
        """
        with self._writing() as cursor:
            self._lock_tracking(cursor)
            rows = ChangedRows(cursor, self.placeholders, remember=REBUILD_REMEMBERED)
            last = position()
            for table in COLUMNS:
                rows.execute(f"DELETE FROM {table}")
            rows.execute(
                f"DELETE FROM {self.tracking_table} WHERE application_name = :name",
                {"name": application_name},
            )
            if last:
                self._record_position(cursor, Tracking(application_name, last))
            yield rows, last
            rows.flush()
            for erased in rows.erased:
                self.on_erasure(erased)
        self.scrub()  # the rows it replaced are gone too

    def write_status(self, status: Mapping[str, Any]) -> None:
        """Record the projection worker's status row (name, holder, heartbeat, failed_at,
        error), in a short transaction of its own."""
        with self._writing() as cursor:
            rows = Rows(cursor, self.placeholders)
            rows.execute(f"DELETE FROM {STATUS} WHERE name = :name", status)
            rows.execute(
                f"INSERT INTO {STATUS} (name, holder, heartbeat, failed_at, error) "
                "VALUES (:name, :holder, :heartbeat, :failed_at, :error)",
                status,
            )

    def secret(self, name: str) -> bytes:
        """The store's secret of this name: 32 random bytes, made by the first process
        that asks and kept with the store."""
        with self._writing() as cursor:
            rows = Rows(cursor, self.placeholders)
            rows.execute(
                f"INSERT INTO {SECRETS} (name, value) VALUES (:name, :value) "
                "ON CONFLICT (name) DO NOTHING",
                {"name": name, "value": secrets.token_hex(32)},
            )
            found = rows.select(f"SELECT value FROM {SECRETS} WHERE name = :name", {"name": name})
        return bytes.fromhex(found[0]["value"])

    def read_status(self, name: str) -> Row | None:
        found = self.query(f"SELECT * FROM {STATUS} WHERE name = :name", {"name": name})
        return found[0] if found else None

    def tracking_position(self, rows: Rows, application_name: str) -> int | None:
        """The tracked position, read inside a ``reading()`` transaction."""
        found = rows.select(
            f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = :name",
            {"name": application_name},
        )
        return found[0]["notification_id"] if found else None
