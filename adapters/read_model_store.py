"""The read model's store on SQLite (the embedded store) and on PostgreSQL: how a
transaction starts, where the library keeps tracking, and reads on connections of their
own. Everything these touch of the library beyond its API goes through
adapters/library.py. The library makes its tracking table; our tables are made and
changed by adapters/migrations.py (schema ``read_model``) before a view opens."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment

from adapters import library
from adapters.leases import creating_schema
from adapters.migrations import READ_MODEL, location, migrate
from adapters.stores import Storage, postgres_env
from projections.events import EventLog
from projections.rows import Rows, postgres_placeholders, sqlite_placeholders
from projections.runner import ReadModel
from projections.schema import COLUMNS, Row
from projections.store import VIEW_NAME, ReadModelView

# A read waits this long for a writer of another process at most (WAL readers seldom wait).
SQLITE_READ_TIMEOUT_S = 5
_READERS_LOCK = threading.Lock()
_ONE_READER = threading.Lock()


class SQLiteReadModelView(SQLiteTrackingRecorder, ReadModelView):
    placeholders = staticmethod(sqlite_placeholders)

    @property
    def tracking_table(self) -> str:
        return library.tracking_table(self)

    def _record_position(self, cursor: Any, tracking: Tracking) -> None:
        library.insert_tracking(self, cursor, tracking)

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with library.sqlite_write_connection(self) as connection:
            cursor = connection.cursor()
            # Durable enough for a view that can always be rebuilt; much faster commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            # A writer's page cache larger than SQLite's default: a large read model's
            # inserts touch index pages all over (benchmarks/findings.py).
            cursor.execute("PRAGMA cache_size=-65536")
            # Rows an erasure blanks leave no copy in free space.
            cursor.execute("PRAGMA secure_delete=ON")
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

    def scrub(self) -> None:
        with library.sqlite_write_connection(self) as connection:
            connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def reading(self) -> Iterator[Rows]:
        with library.transaction(self, commit=False) as cursor:
            yield Rows(cursor, self.placeholders, library.stream_sqlite_rows)

    def query(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        # One query at a time: sqlite3 lets go of the GIL at every row it steps over, and
        # threads reading at once then spend more time taking it back than reading
        # (benchmarks/findings.py).
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
                library.sqlite_path(self),
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
        library.close(self)


class PostgresReadModelView(PostgresTrackingRecorder, ReadModelView):
    placeholders = staticmethod(postgres_placeholders)

    @property
    def tracking_table(self) -> str:
        return library.tracking_table(self)

    def _record_position(self, cursor: Any, tracking: Tracking) -> None:
        library.insert_tracking(self, cursor, tracking)

    def close(self) -> None:
        library.close(self)

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with library.transaction(self, commit=True) as cursor:
            yield cursor

    def refresh_statistics(self) -> None:
        # Every table, not only those a load filled: the dispatch's statement joins the
        # do-not-call list, and with statistics for targets but none for the list the
        # planner chose a plan 4-5x slower than with neither.
        with self._writing() as cursor:
            cursor.execute(f"ANALYZE {', '.join(sorted(COLUMNS))}")

    def _lock_tracking(self, cursor: Any) -> None:
        # A runner's transaction writes the tracking row; hold the table until commit.
        cursor.execute(f"LOCK TABLE {self.tracking_table} IN EXCLUSIVE MODE")

    @contextmanager
    def reading(self) -> Iterator[Rows]:
        with library.transaction(self, commit=False) as cursor:
            # One snapshot for the whole read, as SQLite gives: verify reads the position
            # and the rows it compares in one transaction.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            library.lift_idle_limit(cursor)
            yield Rows(cursor, self.placeholders, library.stream_postgres_rows)

    def query(self, statement: str, params: Mapping[str, Any]) -> list[Row]:
        # The library's connections are in autocommit: one statement, no BEGIN/ROLLBACK.
        with library.postgres_connection(self) as connection, connection.cursor() as cursor:
            cursor.execute(self.placeholders(statement), dict(params))
            return [dict(row) for row in cursor.fetchall()]


READ_MODEL_DBNAME = READ_MODEL.file


def read_model_env(storage: Storage, into: str | None = None) -> dict[str, str]:
    """The environment for the application's event store and, prefixed READMODEL_, for
    the read-model view: beside the events, or ``into`` a SQLite path or PostgreSQL URL."""
    env = storage.event_store_env()
    if storage.kind == "memory":
        msg = "the read model needs the embedded store (a data directory) or PostgreSQL"
        raise ValueError(msg)
    prefix = VIEW_NAME.upper()
    target = into if into is not None else _view_location(storage)
    if target.startswith(("postgres://", "postgresql://")):
        env[f"{prefix}_PERSISTENCE_MODULE"] = "eventsourcing.postgres"
        env.update({f"{prefix}_{k}": v for k, v in postgres_env(target).items()})
        for name in ("POSTGRES_POOL_SIZE", "POSTGRES_MAX_OVERFLOW", "POSTGRES_CONNECT_TIMEOUT"):
            if name in env:
                env[f"{prefix}_{name}"] = env[name]
    else:
        env[f"{prefix}_PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env[f"{prefix}_SQLITE_DBNAME"] = target
        env[f"{prefix}_SQLITE_LOCK_TIMEOUT"] = env.get("SQLITE_LOCK_TIMEOUT", "30")
    return env


def _view_location(storage: Storage) -> str:
    return location(storage, READ_MODEL)


def open_read_model(storage: Storage, events: EventLog, into: str | None = None) -> ReadModel:
    """The read model of ``storage`` (or the one ``into`` names), reading ``events``; its
    tables migrated under the store's schema lock."""
    with creating_schema(storage, connect_timeout=storage.connect_timeout):
        return ReadModel(open_store(storage, into), events)


def open_store(storage: Storage, into: str | None = None) -> ReadModelView:
    """The read model's store beside the events of ``storage``, or ``into`` a SQLite path
    or a PostgreSQL URL of its own; its tables migrated first (a read when current)."""
    env = read_model_env(storage, into)
    where = into if into is not None else _view_location(storage)
    migrate(where, READ_MODEL, connect_timeout=storage.connect_timeout)
    return open_view(env)


def open_view(env: Mapping[str, str]) -> ReadModelView:
    """A view on the read-model store named by ``READMODEL_*`` settings. The library
    makes its tracking table; the store's own tables must be migrated (``open_store``)."""
    environment = Environment(VIEW_NAME, dict(env))
    module = environment.get("PERSISTENCE_MODULE")
    kind = PostgresReadModelView if module == "eventsourcing.postgres" else SQLiteReadModelView
    factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(environment)
    view: ReadModelView = factory.tracking_recorder(kind)
    return view
