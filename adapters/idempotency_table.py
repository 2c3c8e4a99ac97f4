"""The ``outdial_idempotency`` table behind application/idempotency.py's claims: a SQLite
file beside the events, a table of the PostgreSQL database, or memory; made by
adapters/migrations.py (schema ``idempotency``)."""

from __future__ import annotations

import threading
from abc import abstractmethod
from typing import Any

from adapters.migrations import IDEMPOTENCY, location, migrate, migrate_sqlite
from adapters.stores import POOL_WAIT_S, Storage, small_table_connection
from application.idempotency import IdempotencyTable, StoredClaim

TABLE = "outdial_idempotency"


def open_idempotency_table(storage: Storage) -> IdempotencyTable:
    """The store's table, migrated first (a read when it is current)."""
    if storage.kind == "memory":
        return SQLiteIdempotencyTable.in_memory()
    where = location(storage, IDEMPOTENCY)
    migrate(where, IDEMPOTENCY, connect_timeout=storage.connect_timeout)
    if storage.database_url:
        return PostgresIdempotencyTable(where)
    return SQLiteIdempotencyTable(where)


_COLUMNS = "fingerprint, seed, status, body, claimed_at"


class _SQLTable(IdempotencyTable):
    """The statements, with the placeholder of the driver (``?`` or ``%s``)."""

    mark = "?"

    @abstractmethod
    def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[int, list[Any]]:
        """(rows changed, rows returned) of one statement, committed."""

    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.mark)

    def insert(self, customer: str, key: str, fingerprint: str, seed: str, now: float) -> bool:
        changed, _ = self._run(
            self._sql(
                f"INSERT INTO {TABLE} (customer_id, key, {_COLUMNS}) "
                "VALUES (?, ?, ?, ?, NULL, NULL, ?) ON CONFLICT (customer_id, key) DO NOTHING"
            ),
            (customer, key, fingerprint, seed, now),
        )
        return changed == 1

    def get(self, customer: str, key: str) -> StoredClaim | None:
        _, rows = self._run(
            self._sql(f"SELECT {_COLUMNS} FROM {TABLE} WHERE customer_id = ? AND key = ?"),
            (customer, key),
        )
        if not rows:
            return None
        fingerprint, seed, status, body, claimed_at = rows[0]
        return StoredClaim(
            fingerprint, seed, status, None if body is None else bytes(body), float(claimed_at)
        )

    def replace(
        self, customer: str, key: str, was: float, fingerprint: str, seed: str, now: float
    ) -> bool:
        changed, _ = self._run(
            self._sql(
                f"UPDATE {TABLE} SET fingerprint = ?, seed = ?, status = NULL, body = NULL, "
                "claimed_at = ? WHERE customer_id = ? AND key = ? AND claimed_at = ?"
            ),
            (fingerprint, seed, now, customer, key, was),
        )
        return changed == 1

    def take_over(self, customer: str, key: str, was: float, now: float) -> bool:
        changed, _ = self._run(
            self._sql(
                f"UPDATE {TABLE} SET claimed_at = ? "
                "WHERE customer_id = ? AND key = ? AND claimed_at = ? AND status IS NULL"
            ),
            (now, customer, key, was),
        )
        return changed == 1

    def answer(self, customer: str, key: str, status: int, body: bytes) -> None:
        self._run(
            self._sql(f"UPDATE {TABLE} SET status = ?, body = ? WHERE customer_id = ? AND key = ?"),
            (status, body, customer, key),
        )

    def delete(self, customer: str, key: str) -> None:
        self._run(
            self._sql(f"DELETE FROM {TABLE} WHERE customer_id = ? AND key = ? AND status IS NULL"),
            (customer, key),
        )

    def delete_before(self, when: float) -> int:
        changed, _ = self._run(self._sql(f"DELETE FROM {TABLE} WHERE claimed_at < ?"), (when,))
        return changed


class SQLiteIdempotencyTable(_SQLTable):
    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._connection = small_table_connection(path)

    @classmethod
    def in_memory(cls) -> SQLiteIdempotencyTable:
        """A table of this process only: its connection is its whole database."""
        table = cls(":memory:")
        migrate_sqlite(table._connection, IDEMPOTENCY, ":memory:")
        return table

    def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[int, list[Any]]:
        with self._lock:
            cursor = self._connection.execute(sql, params)
            return cursor.rowcount, cursor.fetchall()

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class PostgresIdempotencyTable(_SQLTable):
    mark = "%s"

    def __init__(self, database_url: str) -> None:
        from psycopg_pool import ConnectionPool

        self._pool: ConnectionPool[Any] = ConnectionPool(
            database_url, min_size=1, max_size=2, open=True, timeout=POOL_WAIT_S
        )

    def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[int, list[Any]]:
        with self._pool.connection() as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount, cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        self._pool.close()
