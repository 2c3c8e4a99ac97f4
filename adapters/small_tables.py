"""How the service's own small tables (idempotency claims, webhooks) run a statement: one at
a time, committed, on a SQLite file beside the events (or in memory), or on a small pool of
the PostgreSQL database. Each table states its SQL once with ``?`` placeholders and picks
the store by inheriting one of these."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self, TypeVar

from adapters.migrations import Schema, location, migrate, migrate_sqlite
from adapters.stores import POOL_WAIT_S, Storage, small_table_connection


class Statements(ABC):
    """A table's statements, written with ``?`` and run with the driver's placeholder."""

    mark = "?"

    @abstractmethod
    def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[int, list[Any]]:
        """(rows changed, rows returned) of one statement, committed."""

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.mark)

    @abstractmethod
    def close(self) -> None: ...


class SQLiteStatements(Statements):
    schema: ClassVar[Schema]  # what a table in memory is made with

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._connection = small_table_connection(path)

    @classmethod
    def in_memory(cls) -> Self:
        """A table of this process only: its connection is its whole database."""
        table = cls(":memory:")
        migrate_sqlite(table._connection, cls.schema, ":memory:")
        return table

    def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[int, list[Any]]:
        with self._lock:
            cursor = self._connection.execute(sql, params)
            return cursor.rowcount, cursor.fetchall()

    def scrub(self) -> None:
        """Empty the write-ahead log into the file, so no older copy of a page with
        something since deleted or blanked stays beside it (freed space is zeroed: the
        connection deletes securely)."""
        with self._lock:
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class PostgresStatements(Statements):
    mark = "%s"

    def __init__(self, database_url: str) -> None:
        from psycopg_pool import ConnectionPool

        # Autocommit: a statement is its own transaction, without a BEGIN and a COMMIT
        # each a round trip of its own; statements that must share one say so.
        self._pool: ConnectionPool[Any] = ConnectionPool(
            database_url,
            min_size=1,
            max_size=2,
            open=True,
            timeout=POOL_WAIT_S,
            kwargs={"autocommit": True},
        )

    def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[int, list[Any]]:
        with self._pool.connection() as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount, cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        self._pool.close()


OnSQLite = TypeVar("OnSQLite", bound=SQLiteStatements)
OnPostgres = TypeVar("OnPostgres", bound=PostgresStatements)


def open_small_table(
    storage: Storage, on_sqlite: type[OnSQLite], on_postgres: type[OnPostgres]
) -> OnSQLite | OnPostgres:
    """A table of the store, its schema migrated first (a read when it is current)."""
    if storage.kind == "memory":
        return on_sqlite.in_memory()
    where = location(storage, on_sqlite.schema)
    migrate(where, on_sqlite.schema, connect_timeout=storage.connect_timeout)
    return on_postgres(where) if storage.database_url else on_sqlite(where)
