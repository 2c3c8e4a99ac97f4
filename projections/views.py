"""The read-model tables and the views that write them with tracking in one transaction.

The same table shapes serve SQLite (the embedded store) and PostgreSQL. Times are stored
in their wire form (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), which sorts as text; ``tm_delete``
holds the "not deleted" sentinel until a delete. Addresses and plans are JSON text.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL, Composed

from domain.address import Address
from domain.plan import DESTINATION_SLOTS, Plan

Row = dict[str, Any]

# The fields each resource shows on the wire, in its order (targets: the seed's order).
OUTDIAL_FIELDS: tuple[str, ...] = (
    "id",
    "customer_id",
    "campaign_id",
    "name",
    "detail",
    "data",
    "plan",
    "tm_create",
    "tm_update",
    "tm_delete",
)
TARGET_FIELDS: tuple[str, ...] = (
    "id",
    "outdial_id",
    "name",
    "detail",
    "data",
    "status",
    *(f"destination_{n}" for n in range(DESTINATION_SLOTS)),
    *(f"try_count_{n}" for n in range(DESTINATION_SLOTS)),
    "tm_create",
    "tm_update",
    "tm_delete",
)
DIAL_FIELDS: tuple[str, ...] = (
    "id",
    "outdial_id",
    "outdial_target_id",
    "destination_index",
    "destination",
    "try_count",
    "reference_id",
    "status",
    "result",
    "reason",
    "plan",
    "tm_start",
    "tm_end",
    "duration_ms",
)

# Each table: the wire fields plus what queries and verify need besides.
COLUMNS: dict[str, tuple[str, ...]] = {
    "outdials": (*OUTDIAL_FIELDS, "version"),
    "targets": (
        *TARGET_FIELDS,
        "customer_id",
        "version",
        "dial_in_flight",  # id of the dial in flight, or NULL
        "last_dial_end",  # when the latest dial ended: try_interval counts from here
        "succeeded",  # 1 once any dial succeeded: the target stays done
    ),
    "dials": (
        *DIAL_FIELDS,
        "customer_id",
        "destination_target",  # the dialed address's target string, for audit search
        "timeout_at",  # tm_start + the plan's dial_timeout: when the service may time it out
        "timed_out",
        "late",
    ),
}
_JSON_COLUMNS = {"plan", "destination", *(f"destination_{n}" for n in range(DESTINATION_SLOTS))}

_INTEGER_COLUMNS = {
    "version",
    "succeeded",
    "destination_index",
    "try_count",
    "timed_out",
    "late",
    *(f"try_count_{n}" for n in range(DESTINATION_SLOTS)),
}
_BIGINT_COLUMNS = {"duration_ms"}


def _column_type(name: str) -> str:
    if name in _BIGINT_COLUMNS:
        return "BIGINT"
    return "INTEGER" if name in _INTEGER_COLUMNS else "TEXT"


def _table_statement(table: str) -> str:
    columns = ", ".join(
        f"{c} {_column_type(c)}{' PRIMARY KEY' if c == 'id' else ''}" for c in COLUMNS[table]
    )
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns})"


INDEXES: tuple[str, ...] = (
    # Newest-first pages of a customer's live outdials.
    "CREATE INDEX IF NOT EXISTS outdials_page ON outdials (customer_id, tm_delete, tm_create, id)",
    # Newest-first pages of an outdial's targets, with and without a status filter.
    "CREATE INDEX IF NOT EXISTS targets_page ON targets (outdial_id, tm_create, id)",
    "CREATE INDEX IF NOT EXISTS targets_status ON targets (outdial_id, status, tm_create, id)",
    # The available query: idle, live, oldest tm_update first.
    "CREATE INDEX IF NOT EXISTS targets_available "
    "ON targets (outdial_id, status, tm_delete, tm_update, id)",
    # Dials: of a target, and the audit search by outdial, number, result and time.
    "CREATE INDEX IF NOT EXISTS dials_target ON dials (outdial_target_id, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_customer ON dials (customer_id, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_outdial ON dials (customer_id, outdial_id, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_destination "
    "ON dials (customer_id, destination_target, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_result ON dials (customer_id, result, tm_start, id)",
    # Dials the service must time out.
    "CREATE INDEX IF NOT EXISTS dials_overdue ON dials (status, timeout_at)",
)

SCHEMA: tuple[str, ...] = (*(_table_statement(t) for t in COLUMNS), *INDEXES)


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
    def tracked(self, tracking: Tracking) -> Iterator[Rows]:
        """One transaction that writes view rows and records ``tracking``.

        The tracking insert refuses a position that is not past the recorded one, so an
        event is applied exactly once: a replayed event rolls the whole transaction back.
        """
        with self._writing() as cursor:
            self._insert_tracking(cursor, tracking)
            yield Rows(cursor, self.placeholders)

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


def to_json(value: Address | Plan | None) -> str | None:
    """Addresses and plans are stored as JSON text; unset destinations as NULL."""
    return None if value is None else json.dumps(value.as_dict(), separators=(",", ":"))


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def wire(row: Row, fields: tuple[str, ...]) -> dict[str, Any]:
    """A stored row as the API shows it: the resource's fields, in order, JSON decoded."""
    return {f: from_json(row[f]) if f in _JSON_COLUMNS else row[f] for f in fields}
