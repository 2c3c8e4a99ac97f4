"""The views that hold the read-model tables and write them with tracking in one transaction.

The same SQL serves SQLite (the embedded store) and PostgreSQL; they differ only in how a
write transaction starts and where the library keeps tracking.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Composed

from projections.schema import COLUMNS, SCHEMA, Row


class Cursor(Protocol):
    def execute(self, statement: Any, params: Any = ...) -> Any: ...
    def fetchall(self) -> Any: ...
    def fetchone(self) -> Any: ...


class Rows:
    """Row access inside one read-model transaction (same SQL on both stores)."""

    def __init__(self, cursor: Cursor, placeholders: PlaceholderStyle) -> None:
        self._cursor = cursor
        self._sql = placeholders

    def get(self, table: str, row_id: str) -> Row | None:
        rows = self.select(f"SELECT * FROM {table} WHERE id = :id", {"id": row_id})
        return rows[0] if rows else None

    def insert(self, table: str, row: Mapping[str, Any]) -> None:
        """A new row: every column of the table."""
        columns = COLUMNS[table]
        self.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(f':{c}' for c in columns)})",
            {c: row[c] for c in columns},
        )

    def update(self, table: str, row_id: str, changes: Mapping[str, Any]) -> None:
        """Change some columns of a row; indexes on the others are left alone."""
        assert "id" not in changes
        assignments = ", ".join(f"{c} = :{c}" for c in changes)
        self.execute(f"UPDATE {table} SET {assignments} WHERE id = :id", {**changes, "id": row_id})

    def select(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        self._cursor.execute(self._sql(statement), dict(params))
        return [dict(r) for r in self._cursor.fetchall()]

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        self._cursor.execute(self._sql(statement), dict(params or {}))


class PlaceholderStyle(Protocol):
    def __call__(self, statement: str) -> str: ...


def sqlite_placeholders(statement: str) -> str:
    return statement  # sqlite3 reads :name as it is


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def postgres_placeholders(statement: str) -> str:
    return _NAMED.sub(r"%(\1)s", statement)


class ReadModelView(TrackingRecorder, ABC):
    """The read model's store: its tables plus the library's tracking table.

    The two stores differ only in how a write transaction starts and where tracking
    lives; everything written through a view is the same SQL on both.
    """

    placeholders: PlaceholderStyle

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
    def _insert_tracking(self, cursor: Any, tracking: Tracking) -> None: ...

    @abstractmethod
    @contextmanager
    def reading(self) -> Iterator[Rows]:
        """A read-only transaction for queries."""

    @contextmanager
    def tracked(self, tracking: Tracking, *, after: int | None = None) -> Iterator[Rows]:
        """One transaction that writes view rows and records ``tracking``.

        The tracking insert refuses a position that is not past the recorded one, so an
        event is applied exactly once: a replayed event rolls the whole transaction back.
        A batch of events names the position it follows (``after``): the transaction is
        refused unless the read model is still there, so no event of the batch that a
        rebuild meanwhile projected is applied twice.
        """
        with self._writing() as cursor:
            rows = Rows(cursor, self.placeholders)
            if after is not None:
                self._lock_tracking(cursor)
                found = self.tracking_position(rows, tracking.application_name) or 0
                if found != after:
                    msg = f"the read model is at {found}, not at {after}: read it again"
                    raise IntegrityError(msg)
            self._insert_tracking(cursor, tracking)
            yield rows

    @contextmanager
    def replacing(
        self, application_name: str, position: Callable[[], int]
    ) -> Iterator[tuple[Rows, int]]:
        """One transaction that empties the read model, records ``position()`` as its new
        position, and lets the caller write every row again up to it (a rebuild).

        ``position`` is asked once the write lock is held, so no runner can have applied
        an event past it: a runner waiting on the lock then finds its next position either
        refused (and restarts from the rebuilt one) or next in line. Readers see the old
        read model until the new one commits; interrupted, it rolls back whole.
        """
        with self._writing() as cursor:
            self._lock_tracking(cursor)
            rows = Rows(cursor, self.placeholders)
            last = position()
            for table in COLUMNS:
                rows.execute(f"DELETE FROM {table}")
            rows.execute(
                f"DELETE FROM {self.tracking_table} WHERE application_name = :name",
                {"name": application_name},
            )
            if last:
                self._insert_tracking(cursor, Tracking(application_name, last))
            yield rows, last

    def tracking_position(self, rows: Rows, application_name: str) -> int | None:
        """The tracked position, read inside a ``reading()`` transaction."""
        found = rows.select(
            f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = :name",
            {"name": application_name},
        )
        return found[0]["notification_id"] if found else None


class SQLiteReadModelView(SQLiteTrackingRecorder, ReadModelView):
    placeholders = staticmethod(sqlite_placeholders)
    tracking_table = "tracking"  # type: ignore[assignment]

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *SCHEMA]

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with self.datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            # Durable enough for a view that can always be rebuilt; much faster commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            # IMMEDIATE: these transactions read then write; take the write lock up front
            # so another process's writer makes them wait instead of failing.
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                connection.rollback()
                raise
            connection.commit()

    def _lock_tracking(self, cursor: Any) -> None:
        pass  # BEGIN IMMEDIATE already holds the database's only write lock

    @contextmanager
    def reading(self) -> Iterator[Rows]:
        with self.datastore.transaction(commit=False) as cursor:
            yield Rows(cursor, self.placeholders)


class PostgresReadModelView(PostgresTrackingRecorder, ReadModelView):
    placeholders = staticmethod(postgres_placeholders)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(Composed([SQL(s)]) for s in SCHEMA)  # type: ignore[arg-type]

    @property
    def tracking_table(self) -> str:
        return self.tracking_table_name

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    def _lock_tracking(self, cursor: Any) -> None:
        # A runner's transaction writes the tracking row; hold the table until commit.
        cursor.execute(f"LOCK TABLE {self.tracking_table_name} IN EXCLUSIVE MODE")

    @contextmanager
    def reading(self) -> Iterator[Rows]:
        with self.datastore.transaction(commit=False) as cursor:
            # One snapshot for the whole read, as SQLite gives: verify reads the position
            # and the rows it compares in one transaction.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield Rows(cursor, self.placeholders)


# Pinned: the view is configured by READMODEL_* settings, and on PostgreSQL its tracking
# table is readmodel_tracking; a rename would orphan the stored position.
VIEW_NAME = "readmodel"


def open_view(env: Mapping[str, str]) -> ReadModelView:
    """A view on the read-model store named by ``READMODEL_*`` settings, creating its
    tables when missing."""
    environment = Environment(VIEW_NAME, dict(env))
    module = environment.get("PERSISTENCE_MODULE")
    kind = PostgresReadModelView if module == "eventsourcing.postgres" else SQLiteReadModelView
    factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(environment)
    view: ReadModelView = factory.tracking_recorder(kind)  # type: ignore[arg-type]
    return view
