"""Customers and their API keys (docs/api.md, Authentication).

A key is a long random token shown once, when it is made; the store keeps only its
SHA-256. A salted slow hash would buy nothing here: the tokens carry 256 bits of
entropy, so there is no dictionary to guess from. Customers exist through their keys.
Keys live beside the events: a SQLite file under the data directory, a table in the
PostgreSQL database, or memory; adapters/migrations.py (schema ``access``) makes their
tables.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.migrations import ACCESS, location, migrate, migrate_sqlite
from adapters.stores import POOL_WAIT_S, Storage, small_table_connection

KEY_PREFIX = "odk_"
KEY_ID_PREFIX = "kid_"
KEY_ID_HEX = 12  # hex digits of the hash a key id shows
TABLE = "outdial_api_keys"
# Failed authentications by client address: shared by every process of the store, so N
# API processes allow the same number of guesses as one.
FAILURES = "outdial_auth_failures"
KEY_NAME_MAX = 255
# A key's customer is remembered this long, so that a key revoked in another process is
# refused within twice that, and this many keys at most.
KEY_CACHE_SECONDS = 1.0
KEY_CACHE_SIZE = 10_000


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id(digest: str) -> str:
    """A key's public name: a prefix of its hash, safe to print, log and type."""
    return KEY_ID_PREFIX + digest[:KEY_ID_HEX]


@dataclass(frozen=True)
class KeyRecord:
    """What may be shown of a key: never the secret, nor its whole hash."""

    key_id: str
    customer_id: UUID
    name: str
    created_at: datetime
    revoked_at: datetime | None


class UnknownKey(Exception):
    """No key matches (or, for a key id prefix, more than one does)."""


class ApiKeys:
    """The keys of every customer; each key belongs to exactly one customer."""

    def __init__(self, table: KeyTable) -> None:
        self._table = table
        self._remembered = KeyCache()

    @classmethod
    def open(cls, storage: Storage) -> ApiKeys:
        """The store's keys, their tables migrated first (a read when they are current)."""
        if storage.kind == "memory":
            return cls(SQLiteKeyTable.in_memory())
        where = location(storage, ACCESS)
        migrate(where, ACCESS, connect_timeout=storage.connect_timeout)
        return cls(PostgresKeyTable(where) if storage.database_url else SQLiteKeyTable(where))

    def create(self, customer_id: UUID, name: str = "") -> str:
        """Make a new key for the customer (a new customer id makes the customer)."""
        if not isinstance(name, str) or len(name) > KEY_NAME_MAX:
            msg = f"a key's name is a string of at most {KEY_NAME_MAX} characters"
            raise ValueError(msg)
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self._table.insert(key_hash(key), customer_id, name, datetime.now(UTC))
        return key

    def customer_of(self, key: str) -> UUID | None:
        """The customer a key belongs to, or None for a key nobody made."""
        if not key.startswith(KEY_PREFIX):
            return None
        digest = key_hash(key)
        known, customer = self._remembered.get(digest)
        if not known:
            customer = self._table.customer_of(digest)
            self._remembered.put(digest, customer)
        return customer

    def records(self, customer_id: UUID | None = None) -> list[KeyRecord]:
        """Every key (of one customer, when given), oldest first."""
        return [
            KeyRecord(key_id(digest), customer, name, created, revoked)
            for digest, customer, name, created, revoked in self._table.rows(customer_id)
        ]

    def revoke(self, key_or_id: str) -> KeyRecord:
        """Revoke a key, named by itself or by its key id; revoking again changes nothing.
        Running servers refuse it within twice KEY_CACHE_SECONDS. Errors never repeat a
        secret: they name the key by its id."""
        if key_or_id.startswith(KEY_PREFIX):
            matching = [key_hash(key_or_id)]
            named = key_id(matching[0])
        elif key_or_id.startswith(KEY_ID_PREFIX) and len(key_or_id) == len(KEY_ID_PREFIX) + 12:
            matching = self._table.digests_starting(key_or_id[len(KEY_ID_PREFIX) :])
            named = key_or_id
        else:
            msg = (
                f"neither a key ({KEY_PREFIX}...) nor a key id ({KEY_ID_PREFIX} and 12 hex digits)"
            )
            raise UnknownKey(msg)
        if len(matching) > 1:
            raise UnknownKey(f"more than one key has the id {named}: revoke it by the key itself")
        if not matching or not self._table.revoke(matching[0], datetime.now(UTC)):
            raise UnknownKey(f"no such key: {named}")
        self._remembered.forget(matching[0])
        return next(r for r in self.records() if r.key_id == key_id(matching[0]))

    def remembered(self, key: str) -> tuple[bool, UUID | None]:
        """(True, the key's customer) when it is known without asking the store."""
        if not key.startswith(KEY_PREFIX):
            return True, None
        return self._remembered.get(key_hash(key))

    def refuse_or_count_failure(
        self, address: str, *, allowed: int, window: float, now: float
    ) -> float | None:
        """The time of the oldest failure in the window when ``address`` already has
        ``allowed`` failures within it (refused, not counted); otherwise the failure is
        counted and None answered. One atomic step for every process of the store."""
        return self._table.count_failure(address, now=now, allowed=allowed, window=window)

    def is_empty(self) -> bool:
        return self._table.count() == 0

    def check(self) -> None:
        """Raise when the key store cannot be reached."""
        self._table.count()

    def close(self) -> None:
        self._table.close()


class KeyCache:
    """Recently looked-up keys and their customers (None for unknown keys), bounded in
    number and in age, so that a request seldom needs the key store."""

    def __init__(
        self,
        *,
        size: int = KEY_CACHE_SIZE,
        seconds: float = KEY_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = size
        self._seconds = seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, UUID | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> tuple[bool, UUID | None]:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None or entry[0] <= self._clock():
                return False, None
            return True, entry[1]

    def forget(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def put(self, digest: str, customer: UUID | None) -> None:
        with self._lock:
            self._entries[digest] = (self._clock() + self._seconds, customer)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class KeyTable(ABC):
    """The ``outdial_api_keys`` table in one kind of database."""

    @abstractmethod
    def insert(self, digest: str, customer_id: UUID, name: str, created_at: datetime) -> None: ...

    @abstractmethod
    def customer_of(self, digest: str) -> UUID | None:
        """The customer of a key that is not revoked."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def rows(
        self, customer_id: UUID | None
    ) -> list[tuple[str, UUID, str, datetime, datetime | None]]:
        """(hash, customer, name, created, revoked) of every key, oldest first."""

    @abstractmethod
    def digests_starting(self, prefix: str) -> list[str]: ...

    @abstractmethod
    def revoke(self, digest: str, at: datetime) -> bool:
        """Mark the key revoked (once: a second revoke keeps the first time); False when
        there is no such key."""

    @abstractmethod
    def count_failure(
        self, address: str, *, now: float, allowed: int, window: float
    ) -> float | None:
        """See ``ApiKeys.refuse_or_count_failure``."""

    @abstractmethod
    def close(self) -> None: ...


# Advisory lock of the failure count on PostgreSQL, one per address (a hash of it).
_FAILURES_LOCK_SEED = 7_071_975_003


class SQLiteKeyTable(KeyTable):
    """One connection shared by the service's threads; lookups are far too short to queue.
    The file's tables are migrated beforehand (``ApiKeys.open``)."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._connection = small_table_connection(path)

    @classmethod
    def in_memory(cls) -> SQLiteKeyTable:
        """A table of this process only: its connection is its whole database."""
        table = cls(":memory:")
        migrate_sqlite(table._connection, ACCESS, ":memory:")
        return table

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._connection.execute(sql, params).fetchall()

    def insert(self, digest: str, customer_id: UUID, name: str, created_at: datetime) -> None:
        self._rows(
            f"INSERT INTO {TABLE} (key_hash, customer_id, name, created_at) VALUES (?, ?, ?, ?)",
            (digest, str(customer_id), name, created_at.isoformat()),
        )

    def customer_of(self, digest: str) -> UUID | None:
        rows = self._rows(
            f"SELECT key_hash, customer_id FROM {TABLE} WHERE key_hash = ? AND revoked_at IS NULL",
            (digest,),
        )
        return UUID(rows[0][1]) if rows and hmac.compare_digest(rows[0][0], digest) else None

    def count(self) -> int:
        return int(self._rows(f"SELECT COUNT(*) FROM {TABLE}")[0][0])

    def rows(
        self, customer_id: UUID | None
    ) -> list[tuple[str, UUID, str, datetime, datetime | None]]:
        where, params = ("WHERE customer_id = ?", (str(customer_id),)) if customer_id else ("", ())
        found = self._rows(
            f"SELECT key_hash, customer_id, name, created_at, revoked_at FROM {TABLE} "
            f"{where} ORDER BY created_at, key_hash",
            params,
        )
        return [
            (
                digest,
                UUID(customer),
                name,
                datetime.fromisoformat(created),
                datetime.fromisoformat(revoked) if revoked else None,
            )
            for digest, customer, name, created, revoked in found
        ]

    def digests_starting(self, prefix: str) -> list[str]:
        rows = self._rows(
            f"SELECT key_hash FROM {TABLE} WHERE substr(key_hash, 1, ?) = ?",
            (len(prefix), prefix.lower()),
        )
        return [row[0] for row in rows]

    def revoke(self, digest: str, at: datetime) -> bool:
        with self._lock:
            changed = self._connection.execute(
                f"UPDATE {TABLE} SET revoked_at = COALESCE(revoked_at, ?) WHERE key_hash = ?",
                (at.isoformat(), digest),
            ).rowcount
        return bool(changed)

    def count_failure(
        self, address: str, *, now: float, allowed: int, window: float
    ) -> float | None:
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")  # the write lock: one counter at a time
            try:
                connection.execute(f"DELETE FROM {FAILURES} WHERE failed_at <= ?", (now - window,))
                count, oldest = connection.execute(
                    f"SELECT COUNT(*), MIN(failed_at) FROM {FAILURES} WHERE address = ?",
                    (address,),
                ).fetchone()
                if count < allowed:
                    connection.execute(
                        f"INSERT INTO {FAILURES} (address, failed_at) VALUES (?, ?)", (address, now)
                    )
                    oldest = None
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        return None if oldest is None else float(oldest)

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class PostgresKeyTable(KeyTable):
    """The tables of the database are migrated beforehand (``ApiKeys.open``)."""

    def __init__(self, database_url: str) -> None:
        # Imported here so the embedded store never needs the pool loaded.
        from psycopg_pool import ConnectionPool

        self._pool: ConnectionPool[Any] = ConnectionPool(
            database_url, min_size=1, max_size=2, open=True, timeout=POOL_WAIT_S
        )

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._pool.connection() as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def insert(self, digest: str, customer_id: UUID, name: str, created_at: datetime) -> None:
        self._rows(
            f"INSERT INTO {TABLE} (key_hash, customer_id, name, created_at) "
            "VALUES (%s, %s, %s, %s)",
            (digest, customer_id, name, created_at),
        )

    def customer_of(self, digest: str) -> UUID | None:
        rows = self._rows(
            f"SELECT key_hash, customer_id FROM {TABLE} WHERE key_hash = %s AND revoked_at IS NULL",
            (digest,),
        )
        if rows and hmac.compare_digest(rows[0][0], digest):
            return UUID(str(rows[0][1]))
        return None

    def count(self) -> int:
        return int(self._rows(f"SELECT COUNT(*) FROM {TABLE}")[0][0])

    def rows(
        self, customer_id: UUID | None
    ) -> list[tuple[str, UUID, str, datetime, datetime | None]]:
        where, params = ("WHERE customer_id = %s", (customer_id,)) if customer_id else ("", ())
        found = self._rows(
            f"SELECT key_hash, customer_id, name, created_at, revoked_at FROM {TABLE} "
            f"{where} ORDER BY created_at, key_hash",
            params,
        )
        return [
            (digest, UUID(str(customer)), name, created, revoked)
            for digest, customer, name, created, revoked in found
        ]

    def digests_starting(self, prefix: str) -> list[str]:
        rows = self._rows(
            f"SELECT key_hash FROM {TABLE} WHERE left(key_hash, %s) = %s",
            (len(prefix), prefix.lower()),
        )
        return [row[0] for row in rows]

    def revoke(self, digest: str, at: datetime) -> bool:
        rows = self._rows(
            f"UPDATE {TABLE} SET revoked_at = COALESCE(revoked_at, %s) WHERE key_hash = %s "
            "RETURNING key_hash",
            (at, digest),
        )
        return bool(rows)

    def count_failure(
        self, address: str, *, now: float, allowed: int, window: float
    ) -> float | None:
        with self._pool.connection() as connection, connection.cursor() as cursor:
            # One transaction, one counter of this address at a time across processes.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))",
                (address, _FAILURES_LOCK_SEED),
            )
            cursor.execute(f"DELETE FROM {FAILURES} WHERE failed_at <= %s", (now - window,))
            cursor.execute(
                f"SELECT COUNT(*), MIN(failed_at) FROM {FAILURES} WHERE address = %s",
                (address,),
            )
            row = cursor.fetchone()
            assert row is not None
            count, oldest = row
            if count >= allowed:
                return float(oldest)
            cursor.execute(
                f"INSERT INTO {FAILURES} (address, failed_at) VALUES (%s, %s)",
                (address, now),
            )
        return None

    def close(self) -> None:
        self._pool.close()
