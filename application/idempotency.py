"""Safe retries: a creating request with an ``Idempotency-Key`` runs once per customer and
key within 24 h; a repeat answers what the first answered and records nothing new.

Each key is claimed in a table beside the events before its command runs, with a random
seed from which the command derives its new ids (an outdial's, the targets', the dials').
The answer is kept once the command is done. Should the process die between the command's
commit and keeping its answer, the claim stays unanswered; a repeat after a while takes it
over and runs the command again with the same seed, so the ids it would create already
exist and the command answers what is there instead of creating it twice.
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4, uuid5

from application.errors import ConcurrentChange
from application.storage import POOL_WAIT_S, Storage, small_table_connection
from domain.errors import DomainError

TABLE = "outdial_idempotency"
IDEMPOTENCY_DBNAME = "idempotency.sqlite3"
KEPT_S = 24 * 3600.0
# A claim unanswered this long lost its process: a repeat may run the command again.
TAKE_OVER_AFTER_S = 30.0


@dataclass(frozen=True)
class Claimed:
    """This request runs the command, deriving its new ids from ``seed``."""

    seed: UUID

    def id_of(self, what: str) -> UUID:
        """The id the command gives its ``what`` (``outdial``, ``target/3``, ``dial/0``)."""
        return uuid5(self.seed, what)


@dataclass(frozen=True)
class Answered:
    """The first request's answer, to give again."""

    status: int
    body: bytes


class KeyReused(DomainError):
    """The key was used by this customer for a different request."""

    reason = "IDEMPOTENCY_KEY_REUSED"


class InProgress(ConcurrentChange):
    """A request with this key is running right now (safe to retry)."""

    reason = "IDEMPOTENCY_KEY_IN_PROGRESS"


@dataclass(frozen=True)
class _Row:
    fingerprint: str
    seed: str
    status: int | None
    body: bytes | None
    claimed_at: float


class IdempotencyKeys:
    """Claims and answers of idempotency keys, in one kind of database."""

    def __init__(self, table: IdempotencyTable, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    @classmethod
    def open(cls, storage: Storage) -> IdempotencyKeys:
        if storage.database_url:
            return cls(PostgresIdempotencyTable(storage.database_url))
        if storage.data_dir is not None:
            storage.data_dir.mkdir(parents=True, exist_ok=True)
            return cls(SQLiteIdempotencyTable(str(storage.data_dir / IDEMPOTENCY_DBNAME)))
        return cls(SQLiteIdempotencyTable(":memory:"))

    def claim(self, customer_id: UUID, key: str, fingerprint: str) -> Claimed | Answered:
        """Claim ``key`` for a request (``fingerprint`` says which), or the answer of the
        request that claimed it; KeyReused or InProgress otherwise."""
        customer = str(customer_id)
        for _ in range(5):  # another request may change the row between our statements
            now = self._clock()
            seed = str(uuid4())
            if self._table.insert(customer, key, fingerprint, seed, now):
                return Claimed(UUID(seed))
            row = self._table.get(customer, key)
            if row is None:
                continue  # removed meanwhile (a released claim): try again
            if row.claimed_at <= now - KEPT_S:  # forgotten: a new request
                if self._table.replace(customer, key, row.claimed_at, fingerprint, seed, now):
                    return Claimed(UUID(seed))
                continue
            if row.fingerprint != fingerprint:
                msg = "this Idempotency-Key was used for a different request"
                raise KeyReused(msg)
            if row.status is not None and row.body is not None:
                return Answered(row.status, row.body)
            if row.claimed_at <= now - TAKE_OVER_AFTER_S:
                if self._table.take_over(customer, key, row.claimed_at, now):
                    return Claimed(UUID(row.seed))
                continue
            msg = "a request with this Idempotency-Key is in progress; retry shortly"
            raise InProgress(msg)
        msg = "a request with this Idempotency-Key is in progress; retry shortly"
        raise InProgress(msg)

    def answer(self, customer_id: UUID, key: str, status: int, body: bytes) -> None:
        """Keep the answer of a claimed key, for its repeats."""
        self._table.answer(str(customer_id), key, status, body)

    def release(self, customer_id: UUID, key: str) -> None:
        """The command did not complete: a repeat runs it again (with a new seed: the
        command created nothing)."""
        self._table.delete(str(customer_id), key)

    def forget_older_than(self, seconds: float = KEPT_S) -> int:
        """Drop answers past keeping; returns how many."""
        return self._table.delete_before(self._clock() - seconds)

    def close(self) -> None:
        self._table.close()


class IdempotencyTable(ABC):
    """The ``outdial_idempotency`` table; every method is one atomic statement."""

    @abstractmethod
    def insert(self, customer: str, key: str, fingerprint: str, seed: str, now: float) -> bool: ...

    @abstractmethod
    def get(self, customer: str, key: str) -> _Row | None: ...

    @abstractmethod
    def replace(
        self, customer: str, key: str, was: float, fingerprint: str, seed: str, now: float
    ) -> bool: ...

    @abstractmethod
    def take_over(self, customer: str, key: str, was: float, now: float) -> bool: ...

    @abstractmethod
    def answer(self, customer: str, key: str, status: int, body: bytes) -> None: ...

    @abstractmethod
    def delete(self, customer: str, key: str) -> None: ...

    @abstractmethod
    def delete_before(self, when: float) -> int: ...

    @abstractmethod
    def close(self) -> None: ...


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

    def get(self, customer: str, key: str) -> _Row | None:
        _, rows = self._run(
            self._sql(f"SELECT {_COLUMNS} FROM {TABLE} WHERE customer_id = ? AND key = ?"),
            (customer, key),
        )
        if not rows:
            return None
        fingerprint, seed, status, body, claimed_at = rows[0]
        return _Row(
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
        with self._lock:
            self._connection.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (customer_id TEXT NOT NULL, "
                "key TEXT NOT NULL, fingerprint TEXT NOT NULL, seed TEXT NOT NULL, "
                "status INTEGER, body BLOB, claimed_at REAL NOT NULL, "
                "PRIMARY KEY (customer_id, key))"
            )

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
        import psycopg
        from psycopg_pool import ConnectionPool

        self._pool: ConnectionPool[Any] = ConnectionPool(
            database_url, min_size=1, max_size=2, open=True, timeout=POOL_WAIT_S
        )
        with contextlib.suppress(psycopg.errors.UniqueViolation):  # another process did
            self._run(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (customer_id TEXT NOT NULL, "
                "key TEXT NOT NULL, fingerprint TEXT NOT NULL, seed TEXT NOT NULL, "
                "status INTEGER, body BYTEA, claimed_at DOUBLE PRECISION NOT NULL, "
                "PRIMARY KEY (customer_id, key))",
                (),
            )

    def _run(self, sql: str, params: tuple[Any, ...]) -> tuple[int, list[Any]]:
        with self._pool.connection() as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)  # type: ignore[arg-type]  # built from constants
            return cursor.rowcount, cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        self._pool.close()
