"""The views that hold the read-model tables and write them with tracking in one transaction.

The same SQL serves SQLite (the embedded store) and PostgreSQL; they differ only in how a
write transaction starts and where the library keeps tracking.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
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

from projections.schema import (
    ADDED_COLUMNS,
    COLUMNS,
    INDEXES,
    SECRETS,
    STATUS,
    TABLES,
    Row,
    add_column_statement,
)

# A read waits this long for a writer of another process at most (WAL readers seldom wait).
SQLITE_READ_TIMEOUT_S = 5
_READERS_LOCK = threading.Lock()
_ONE_READER = threading.Lock()
STREAM_BATCH = 2_000


class Cursor(Protocol):
    def execute(self, statement: Any, params: Any = ...) -> Any: ...
    def executemany(self, statement: Any, params: Any) -> Any: ...
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

    def select(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        self._cursor.execute(self._sql(statement), dict(params))
        return [dict(r) for r in self._cursor.fetchall()]

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        self._cursor.execute(self._sql(statement), dict(params or {}))

    def stream(self, table: str, order_by: tuple[str, ...]) -> Iterator[Row]:
        """Every row of ``table`` in the byte order of some text columns, a batch at a
        time (a server-side cursor on PostgreSQL), in this transaction's snapshot."""
        connection = getattr(self._cursor, "connection", None)
        if connection is not None and hasattr(connection, "pgconn"):
            order = ", ".join(f'{column} COLLATE "C"' for column in order_by)
            named = connection.cursor(name=f"outdial_{table}")
            named.itersize = STREAM_BATCH
            named.execute(f"SELECT * FROM {table} ORDER BY {order}")  # type: ignore[arg-type]
            yield from (dict(row) for row in named)
            return
        # A cursor of its own on the same connection (the same snapshot): several
        # streams are read side by side.
        raw: Any = getattr(self._cursor, "sqlite_cursor", self._cursor)
        cursor = raw.connection.cursor()
        cursor.execute(f"SELECT * FROM {table} ORDER BY {', '.join(order_by)}")
        while batch := cursor.fetchmany(STREAM_BATCH):
            yield from (dict(row) for row in batch)


class ChangedRows(Rows):
    """The rows one transaction writes, held until ``flush``.

    A row read or written before in the same transaction is answered from memory, and
    the writes go out as one batched statement per table and set of columns, so a batch
    of events touching a row several times costs one read and one write of it.
    """

    def __init__(self, cursor: Cursor, placeholders: PlaceholderStyle) -> None:
        super().__init__(cursor, placeholders)
        self._known: dict[tuple[str, str], Row] = {}
        self._inserted: set[tuple[str, str]] = set()
        self._changed: dict[tuple[str, str], set[str]] = {}

    def get(self, table: str, row_id: str) -> Row | None:
        key = (table, row_id)
        if key not in self._known:
            # A row this transaction has not touched is as the database has it: no flush.
            found = Rows.select(self, f"SELECT * FROM {table} WHERE id = :id", {"id": row_id})
            if not found:
                return None
            self._known[key] = found[0]
        return dict(self._known[key])

    def insert(self, table: str, row: Mapping[str, Any]) -> None:
        """A new row: every column of the table."""
        key = (table, row["id"])
        self._known[key] = {c: row[c] for c in COLUMNS[table]}
        self._inserted.add(key)

    def insert_many(self, table: str, rows: Sequence[Row]) -> None:
        """New rows, each with every column of the table, written at once as one
        statement rather than held: a later read of one in this transaction finds it in
        the database. What the transaction held before is written first, in order."""
        if not rows:
            return
        columns = COLUMNS[table]
        if rows[0].keys() != set(columns):
            msg = f"a new {table} row needs exactly the columns {', '.join(columns)}"
            raise ValueError(msg)
        self.flush()
        statement = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(f':{c}' for c in columns)})"
        )
        self._cursor.executemany(self._sql(statement), rows)

    def update(self, table: str, row_id: str, changes: Mapping[str, Any]) -> None:
        """Change some columns of a row; indexes on the others are left alone."""
        assert "id" not in changes
        key = (table, row_id)
        if self.get(table, row_id) is None:
            msg = f"{table} {row_id} has no row to change"
            raise LookupError(msg)
        self._known[key].update(changes)
        if key not in self._inserted:
            self._changed.setdefault(key, set()).update(changes)

    def flush(self) -> None:
        """Write what this transaction changed so far."""
        inserts: dict[str, list[Row]] = {}
        for table, row_id in self._inserted:
            inserts.setdefault(table, []).append(self._known[(table, row_id)])
        for table, rows in inserts.items():
            columns = COLUMNS[table]
            statement = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join(f':{c}' for c in columns)})"
            )
            self._cursor.executemany(self._sql(statement), rows)
        updates: dict[tuple[str, tuple[str, ...]], list[Row]] = {}
        for (table, row_id), columns_changed in self._changed.items():
            columns = tuple(sorted(columns_changed))
            row = self._known[(table, row_id)]
            updates.setdefault((table, columns), []).append(
                {**{c: row[c] for c in columns}, "id": row_id}
            )
        for (table, columns), rows in updates.items():
            assignments = ", ".join(f"{c} = :{c}" for c in columns)
            statement = f"UPDATE {table} SET {assignments} WHERE id = :id"
            self._cursor.executemany(self._sql(statement), rows)
        self._known.clear()
        self._inserted.clear()
        self._changed.clear()

    def select(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        self.flush()
        return super().select(statement, params)

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> None:
        self.flush()
        super().execute(statement, params)


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
        """A read-only transaction: one snapshot for several statements (verify)."""

    @abstractmethod
    def query(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        """One read statement, outside any transaction, on a connection that only reads."""

    def close(self) -> None:
        self.datastore.close()  # type: ignore[attr-defined]  # both stores' views have one

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
            rows = ChangedRows(cursor, self.placeholders)
            if after is not None:
                self._lock_tracking(cursor)
                found = self.tracking_position(rows, tracking.application_name) or 0
                if found != after:
                    msg = f"the read model is at {found}, not at {after}: read it again"
                    raise IntegrityError(msg)
            self._insert_tracking(cursor, tracking)
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
            rows = ChangedRows(cursor, self.placeholders)
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
            rows.flush()

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


class SQLiteReadModelView(SQLiteTrackingRecorder, ReadModelView):
    placeholders = staticmethod(sqlite_placeholders)
    tracking_table = "tracking"  # type: ignore[assignment]

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *TABLES]

    def _create_table(self, c: Any) -> None:
        super()._create_table(c)
        for table, column, kind in ADDED_COLUMNS:
            c.execute(f"PRAGMA table_info({table})")
            present = {row[1] for row in c.fetchall()}
            if column not in present:
                c.execute(add_column_statement(table, column, kind))
        for statement in INDEXES:
            c.execute(statement)

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with self.datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            # Durable enough for a view that can always be rebuilt; much faster commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            # A writer's page cache of 64 MB instead of 2: the rows' ids are random, so a
            # large read model's inserts touch index pages all over (1,000,000 imported
            # targets: 9,779-9,978 -> 10,159-10,790 a second).
            cursor.execute("PRAGMA cache_size=-65536")
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

    def query(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        # One query at a time: sqlite3 lets go of the GIL at every row it steps over, and
        # threads reading at once then spend more time taking it back than reading (a
        # page of 100 rows, 8 readers: 2.3 times the throughput this way).
        with _ONE_READER:
            cursor = self._reader().execute(statement, params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection: no pool, no BEGIN, no ROLLBACK per query."""
        local = self.__dict__.setdefault("_readers_local", threading.local())
        connection: sqlite3.Connection | None = getattr(local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.datastore.pool.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                timeout=SQLITE_READ_TIMEOUT_S,
            )
            connection.execute("PRAGMA query_only=ON")
            local.connection = connection
            with _READERS_LOCK:
                self.__dict__.setdefault("_readers", []).append(connection)
        return connection

    def close(self) -> None:
        with _READERS_LOCK:
            for connection in self.__dict__.pop("_readers", []):
                connection.close()
        self.__dict__.pop("_readers_local", None)
        super().close()


class PostgresReadModelView(PostgresTrackingRecorder, ReadModelView):
    placeholders = staticmethod(postgres_placeholders)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        statements = [
            *TABLES,
            *(
                add_column_statement(table, f"IF NOT EXISTS {column}", kind)
                for table, column, kind in ADDED_COLUMNS
            ),
            *INDEXES,
        ]
        self.sql_create_statements.extend(Composed([SQL(s)]) for s in statements)  # type: ignore[arg-type]

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

    def query(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        # The library's connections are in autocommit: one statement, no BEGIN/ROLLBACK.
        with self.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(self.placeholders(statement), dict(params))  # type: ignore[arg-type]
            return [dict(row) for row in cursor.fetchall()]


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
