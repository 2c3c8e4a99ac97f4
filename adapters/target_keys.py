"""Each target's key of its sealed personal fields (application/sealing.py): the table
``outdial_target_keys`` in the event store's database (SQLite's events file, or the
PostgreSQL database), or memory; made by adapters/migrations.py (schema ``target_keys``).

A new target's key is durable before its first sealed event. A target the service names
(``new_target_ids``) takes an id whose key was stored ahead, in a batch of them in one
transaction, so its write pays for no key. A target whose id is given (an import, a request
with an ``Idempotency-Key``) has its key written by the event store's recorder in the
transaction that records its Created event (adapters/library.py). An id stored ahead that
no target takes is deleted when the process closes its keys; one left by a crash is a key
of nothing, and harmless. Keys are read through a cache of this process: a key never
changes while it exists.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque
from collections.abc import Collection
from typing import Any
from uuid import UUID

from adapters.library import (
    POSTGRES_SNAPSHOTS_TABLE,
    SQLITE_SNAPSHOTS_TABLE,
    TARGET_KEYS_TABLE,
    as_uuid,
)
from adapters.migrations import TARGET_KEYS
from adapters.small_tables import PostgresStatements, SQLiteStatements, Statements
from adapters.stores import EVENTS_DBNAME, Storage
from application.ids import sorted_random_id
from application.sealing import KEY_BYTES, TargetKeyStore

TABLE = TARGET_KEYS_TABLE
# Keys a process remembers (the most recently used).
KEYS_REMEMBERED = 100_000
# Keys fetched, or destroyed, in one statement at most.
READ_AHEAD_MAX = 500
DESTROY_MAX = 2_000
# New targets' ids and keys stored ahead in one transaction (more for a larger batch).
KEYS_AHEAD = 256


class TargetKeys:
    """The application's TargetKeyStore: keys read from their table, through a cache."""

    def __init__(self, table: _KeyTable | None) -> None:
        self._table = table  # None: in memory, where the cache is the whole store
        self._known: OrderedDict[UUID, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._ahead: deque[tuple[UUID, bytes]] = deque()  # stored, no target yet
        self._ahead_lock = threading.Lock()

    def key_of(self, target_id: UUID) -> bytes | None:
        with self._lock:
            key = self._known.get(target_id)
            if key is not None:
                self._known.move_to_end(target_id)
                return key
        if self._table is None:
            return None
        key = self._table.key_of(target_id)
        if key is not None:
            self._remember(target_id, key)
        return key

    def read_ahead(self, target_ids: Collection[UUID]) -> None:
        if self._table is None:
            return
        with self._lock:
            missing = [i for i in target_ids if i not in self._known]
        for start in range(0, len(missing), READ_AHEAD_MAX):
            for target_id, key in self._table.keys_of(missing[start : start + READ_AHEAD_MAX]):
                self._remember(target_id, key)

    def stored(self, target_id: UUID, key: bytes) -> None:
        self._remember(target_id, key)  # in memory, the only place it is kept

    def new_target_ids(self, count: int) -> list[UUID]:
        with self._ahead_lock:
            if len(self._ahead) < count:  # a batch's worth at once, in one transaction
                self._store_ahead(max(KEYS_AHEAD, count - len(self._ahead)))
            taken = [self._ahead.popleft() for _ in range(count)]
        for target_id, key in taken:
            self._remember(target_id, key)
        return [target_id for target_id, _ in taken]

    def known_key(self, target_id: UUID) -> bytes | None:
        with self._lock:
            return self._known.get(target_id)

    def _store_ahead(self, count: int) -> None:
        randomness = os.urandom(KEY_BYTES * count)
        ahead = [
            (sorted_random_id(), randomness[n : n + KEY_BYTES])
            for n in range(0, len(randomness), KEY_BYTES)
        ]
        if self._table is not None:
            self._table.store(ahead)
        self._ahead.extend(ahead)

    def fresh(self) -> TargetKeyStore:
        if self._table is None:
            return self  # in memory this is the store itself
        return _KeysAsStored(self._table, self)

    def destroy(self, target_ids: Collection[UUID]) -> None:
        """Delete the keys (and the targets' snapshots, sealed with them) in one
        transaction of their table, and forget them here."""
        ids = list(target_ids)
        if self._table is not None:
            destroyed = 0
            for start in range(0, len(ids), DESTROY_MAX):
                destroyed += self._table.destroy(ids[start : start + DESTROY_MAX])
            if destroyed:  # none on a second apply: nothing to scrub
                self._table.scrub()
        self.forget(ids)

    def forget(self, target_ids: Collection[UUID]) -> None:
        with self._lock:
            for target_id in target_ids:
                self._known.pop(target_id, None)

    def _remember(self, target_id: UUID, key: bytes) -> None:
        with self._lock:
            self._known[target_id] = key
            # In memory the cache is the store: it forgets nothing.
            if len(self._known) > KEYS_REMEMBERED and self._table is not None:
                self._known.popitem(last=False)

    def close(self) -> None:
        """Delete the keys stored ahead that no target took (no event was sealed with
        them), then close the table."""
        with self._ahead_lock:
            unused = [target_id for target_id, _ in self._ahead]
            self._ahead.clear()
        if self._table is not None:
            if unused:
                self._table.delete_unused(unused)
            self._table.close()


class _KeysAsStored:
    """The keys of one read, each asked of the table once (``TargetKeyStore.fresh``)."""

    def __init__(self, table: _KeyTable, keys: TargetKeys) -> None:
        self._table = table
        self._keys = keys
        self._read: dict[UUID, bytes | None] = {}

    def key_of(self, target_id: UUID) -> bytes | None:
        if target_id not in self._read:
            self._read[target_id] = self._table.key_of(target_id)
            if self._read[target_id] is None:
                self._keys.forget([target_id])
        return self._read[target_id]

    def read_ahead(self, target_ids: Collection[UUID]) -> None:
        missing = [i for i in target_ids if i not in self._read]
        for start in range(0, len(missing), READ_AHEAD_MAX):
            batch = missing[start : start + READ_AHEAD_MAX]
            found = dict(self._table.keys_of(batch))
            self._read.update((i, found.get(i)) for i in batch)
            self._keys.forget([i for i in batch if i not in found])

    def stored(self, target_id: UUID, key: bytes) -> None:
        self._keys.stored(target_id, key)

    def new_target_ids(self, count: int) -> list[UUID]:
        return self._keys.new_target_ids(count)

    def known_key(self, target_id: UUID) -> bytes | None:
        return self._keys.known_key(target_id)

    def fresh(self) -> TargetKeyStore:
        return _KeysAsStored(self._table, self._keys)

    def destroy(self, target_ids: Collection[UUID]) -> None:
        self._keys.destroy(target_ids)


class _KeyTable(Statements):
    snapshots: str

    def key_of(self, target_id: UUID) -> bytes | None:
        _, rows = self._run(
            self._sql(f"SELECT key FROM {TABLE} WHERE target_id = ?"), (self._id(target_id),)
        )
        return bytes(rows[0][0]) if rows else None

    def keys_of(self, target_ids: list[UUID]) -> list[tuple[UUID, bytes]]:
        among, params = self._among("target_id", [self._id(i) for i in target_ids])
        _, rows = self._run(self._sql(f"SELECT target_id, key FROM {TABLE} WHERE {among}"), params)
        return [(as_uuid(target_id), bytes(key)) for target_id, key in rows]

    def store(self, keys: list[tuple[UUID, bytes]]) -> None:
        """New targets' keys, in one statement (one transaction)."""
        rows = ", ".join(["(?, ?)"] * len(keys))
        params = tuple(v for target_id, key in keys for v in (self._id(target_id), key))
        self._run(self._sql(f"INSERT INTO {TABLE} (target_id, key) VALUES {rows}"), params)

    def delete_unused(self, target_ids: list[UUID]) -> None:
        """Delete keys stored ahead that no target took: nothing was sealed with them, so
        there is no snapshot to delete and nothing to scrub."""
        keys = self._among("target_id", [self._id(i) for i in target_ids])
        self._run(self._sql(f"DELETE FROM {TABLE} WHERE {keys[0]}"), keys[1])

    def destroy(self, target_ids: list[UUID]) -> int:
        """Delete these targets' keys and snapshots, in one transaction; how many keys."""
        keys = self._among("target_id", [self._id(i) for i in target_ids])
        snapshots = self._among("originator_id", [self._originator_id(i) for i in target_ids])
        return self._run_all(
            [
                (self._sql(f"DELETE FROM {TABLE} WHERE {keys[0]}"), keys[1]),
                (self._sql(f"DELETE FROM {self.snapshots} WHERE {snapshots[0]}"), snapshots[1]),
            ]
        )

    def _among(self, column: str, values: list[Any]) -> tuple[str, tuple[Any, ...]]:
        """SQL that ``column`` is one of ``values``, and its parameters."""
        return f"{column} IN ({', '.join('?' * len(values))})", tuple(values)

    def _run_all(self, statements: list[tuple[str, tuple[Any, ...]]]) -> int:
        """Rows the first statement changed."""
        changed = [self._run(sql, params)[0] for sql, params in statements]
        return changed[0]

    def scrub(self) -> None:
        """Nothing beside the table to clear (PostgreSQL keeps old rows until vacuum)."""

    def _id(self, target_id: UUID) -> Any:
        return str(target_id)

    def _originator_id(self, target_id: UUID) -> Any:
        """An id as the library stores it in its snapshots table."""
        return target_id


class _SQLiteKeyTable(SQLiteStatements, _KeyTable):
    schema = TARGET_KEYS
    snapshots = SQLITE_SNAPSHOTS_TABLE

    def _originator_id(self, target_id: UUID) -> Any:
        return target_id.hex  # the library's SQLite recorder stores ids so

    def _run_all(self, statements: list[tuple[str, tuple[Any, ...]]]) -> int:
        """In one transaction (``scrub`` then empties the write-ahead log into the file,
        so no older copy of a page with the keys stays there)."""
        with self._lock, self._connection:
            self._connection.execute("BEGIN")
            changed = [self._connection.execute(sql, p).rowcount for sql, p in statements]
        return changed[0]


class _PostgresKeyTable(PostgresStatements, _KeyTable):
    snapshots = POSTGRES_SNAPSHOTS_TABLE

    def _run_all(self, statements: list[tuple[str, tuple[Any, ...]]]) -> int:
        changed: list[int] = []
        with self._pool.connection() as connection, connection.transaction():
            cursor = connection.cursor()
            for sql, params in statements:
                cursor.execute(sql, params)
                changed.append(cursor.rowcount)
        return changed[0]

    def _id(self, target_id: UUID) -> Any:
        return target_id

    def store(self, keys: list[tuple[UUID, bytes]]) -> None:
        """New targets' keys, in one statement: two array parameters in binary, for the
        reason ``_among`` gives, not two placeholders a key."""
        ids, values = [target_id for target_id, _ in keys], [key for _, key in keys]
        self._run(
            f"INSERT INTO {TABLE} (target_id, key) SELECT * FROM unnest(%b::uuid[], %b::bytea[])",
            (ids, values),
        )

    def _among(self, column: str, values: list[Any]) -> tuple[str, tuple[Any, ...]]:
        # One array parameter, sent in binary: a statement with thousands of placeholders
        # is parsed anew by the driver each time (0.7 s of an outdial's erasure of
        # 100,000 keys), and an array's text form is slow to make.
        return f"{column} = ANY(%b)", (values,)


def open_target_keys(storage: Storage) -> TargetKeys:
    """The store's keys (its table is made by the store's migrations)."""
    if storage.database_url:
        return TargetKeys(_PostgresKeyTable(storage.database_url))
    if storage.data_dir is not None:
        return TargetKeys(_SQLiteKeyTable(str(storage.data_dir / EVENTS_DBNAME)))
    return TargetKeys(None)
