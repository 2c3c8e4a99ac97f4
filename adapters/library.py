"""Every place the service relies on more of the `eventsourcing` library than its
documented API: underscored methods of its recorders, its datastores' connections and
its tables. Each is named here, once; tests/integration/test_library_contract.py fails
when an upgrade of the library changes one of them, on both stores.

What the service takes from here:
- the event store's recorders, which wake this process's readers as they commit, and add
  the reads the library has no query for: the events of many aggregates in one query,
  which of some ids exist, and every event by aggregate up to a position (streamed);
- commits that do not wait for the disk, for a bulk writer that syncs once at its end;
- the read model's transactions on the library's datastores, and the position it records
  in the library's tracking table inside them.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    ProgrammingError,
    StoredEvent,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteTrackingRecorder
from psycopg.sql import SQL, Identifier

from application.sealing import KeyedStoredEvent

log = logging.getLogger(__name__)

# Rows fetched at a time when streaming every aggregate's events.
STREAM_BATCH = 2_000
# Each target's key of its sealed fields (adapters/target_keys.py), written here in the
# transaction of the target's Created event.
TARGET_KEYS_TABLE = "outdial_target_keys"
# The library's snapshots tables, by store: an erasure deletes a target's snapshots (they
# are sealed with the key it destroys). tests/integration/test_library_contract.py checks.
SQLITE_SNAPSHOTS_TABLE = "stored_snapshots"
POSTGRES_SNAPSHOTS_TABLE = "outdial_snapshots"
_STORED = "originator_id, originator_version, topic, state"
# Events one INSERT statement sends at most on PostgreSQL (a write of more takes several).
INSERT_MAX = 5_000

# -- waking this process's readers -------------------------------------------------------

_LISTENERS: set[threading.Event] = set()
_LISTENERS_LOCK = threading.Lock()


def listen_for_commits(signal: threading.Event) -> None:
    """``signal`` is set whenever a recorder of this process has committed events."""
    with _LISTENERS_LOCK:
        _LISTENERS.add(signal)


def stop_listening(signal: threading.Event) -> None:
    with _LISTENERS_LOCK:
        _LISTENERS.discard(signal)


def _wake_listeners() -> None:
    with _LISTENERS_LOCK:
        for listener in _LISTENERS:
            listener.set()


# -- the event store's recorders ---------------------------------------------------------


class WakingSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, waking this process's readers once it has committed,
    with the reads the library has no query for."""

    # Set by a bulk writer (``unsynced_commits``): its commits do not wait for the disk.
    syncs_each_commit = True

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.syncs_each_commit:
            notification_ids = super().insert_events(stored_events, **kwargs)
        else:
            notification_ids = self._insert_unsynced(stored_events, **kwargs)
        _wake_listeners()
        return notification_ids

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert, after the keys of new targets sealed in these events
        (the same transaction: a key is durable when its first sealed event is)."""
        keys = [(str(e.originator_id), e.new_key) for e in _keyed(stored_events)]
        if keys:
            c.executemany(f"INSERT INTO {TARGET_KEYS_TABLE} (target_id, key) VALUES (?, ?)", keys)
        ids: Sequence[int] | None = super()._insert_events(c, stored_events, **kwargs)
        return ids

    def _insert_unsynced(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with self.datastore.get_connection(commit=True) as connection:
            # The safety level cannot change inside a transaction: set it around one, and
            # give the pool its connection back as it was.
            connection.cursor().execute("PRAGMA synchronous=NORMAL")
            try:
                with connection.transaction(commit=True) as cursor:
                    return self._insert_events(cursor, stored_events, **kwargs)
            finally:
                connection.cursor().execute("PRAGMA synchronous=FULL")

    def sync(self) -> None:
        """Make every commit so far durable: what ``synchronous=NORMAL`` left in the
        write-ahead log reaches the disk (what it checkpointed, it synced then)."""
        wal = Path(self.datastore.pool.db_name + "-wal")
        if wal.exists():
            descriptor = os.open(wal, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The library's query, on this thread's reading connection (``_read``): one
        statement sees every commit before it, and skips the pool and the BEGIN and
        ROLLBACK around it, most of the cost of loading a cached aggregate
        (benchmarks/findings.py)."""
        statement = f"SELECT {_STORED} FROM {self.events_table_name} WHERE originator_id=? "
        params: list[Any] = [
            originator_id.hex if isinstance(originator_id, UUID) else originator_id
        ]
        if gt is not None:
            statement += "AND originator_version>? "
            params.append(gt)
        if lte is not None:
            statement += "AND originator_version<=? "
            params.append(lte)
        statement += "ORDER BY originator_version " + ("DESC " if desc else "ASC ")
        if limit is not None:
            statement += "LIMIT ? "
            params.append(limit)
        return [_stored_row(row) for row in self._read(statement, params)]

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of some aggregates, by aggregate then version, in one query."""
        marks = ",".join("?" * len(originator_ids))
        statement = (
            f"SELECT {_STORED} FROM {self.events_table_name} "
            f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version"
        )
        return [_stored_row(row) for row in self._read(statement, [i.hex for i in originator_ids])]

    def existing_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Those of some aggregate ids that have events, in one query on the primary key."""
        marks = ",".join("?" * len(originator_ids))
        statement = (
            f"SELECT originator_id FROM {self.events_table_name} "
            f"WHERE originator_id IN ({marks}) AND originator_version = 1"
        )
        return {UUID(row[0]) for row in self._read(statement, [i.hex for i in originator_ids])}

    def first_events_lacking(self, originator_ids: Sequence[UUID], mark: bytes) -> list[UUID]:
        """Those of some aggregate ids whose first event's state lacks ``mark``, in one
        query on the primary key."""
        marks = ",".join("?" * len(originator_ids))
        statement = (
            f"SELECT originator_id FROM {self.events_table_name} "
            f"WHERE originator_id IN ({marks}) AND originator_version = 1 AND instr(state, ?) = 0"
        )
        params = [*(i.hex for i in originator_ids), mark]
        return [UUID(row[0]) for row in self._read(statement, params)]

    def _read(self, statement: str, params: Sequence[Any]) -> list[Any]:
        """The rows of one read statement (each indexable by column position), on this
        thread's reading connection, or in a transaction of the library's pool in memory."""
        reader = self._reader()
        if reader is not None:
            return reader.execute(statement, params).fetchall()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall())

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's connection for reading the event file outside any transaction
        (None in memory, where only the library's pool shares the database)."""
        pool = self.datastore.pool
        if pool.is_sqlite_memory_mode:
            return None
        local = self.__dict__.setdefault("_readers_local", threading.local())
        reader: sqlite3.Connection | None = getattr(local, "connection", None)
        if reader is None:
            reader = sqlite3.connect(
                pool.db_name, uri=True, check_same_thread=False, isolation_level=None
            )
            reader.execute("PRAGMA query_only=ON")
            # Closed with its thread or with the recorder, whichever goes first.
            local.connection = reader
        return reader

    @contextmanager
    def stored_by_aggregate(self, until: int) -> Iterator[Iterator[StoredEvent]]:
        """Every event up to notification ``until``, by aggregate then version, streamed
        on a connection of its own. The notification id is the table's rowid."""
        connection = sqlite3.connect(self.datastore.pool.db_name, uri=True)
        try:
            rows = connection.execute(
                f"SELECT {_STORED} FROM {self.events_table_name} WHERE rowid <= ? "
                "ORDER BY originator_id, originator_version",
                (until,),
            )
            rows.arraysize = STREAM_BATCH
            yield (StoredEvent(UUID(row[0]), row[1], row[2], row[3]) for row in rows)
        finally:
            connection.close()


def _apply_within(
    curs: Any,
    ids: Sequence[int],
    within: Callable[[Any, Sequence[int]], Callable[[bool], None]],
    ended: list[Callable[[bool], None]],
) -> None:
    """``within(curs, ids)`` in the events' transaction, under a savepoint: whatever it
    fails on is rolled back and the events are committed all the same (the projection
    applies them after). What it answers, to be called when the transaction has ended,
    joins ``ended`` once its savepoint is released, and is ended at once otherwise.

    Called again for the same ``ended``, the insert is being retried (the library's
    retry of a lost connection): the earlier attempt's transaction did not commit."""
    while ended:
        ended.pop()(False)
    end: Callable[[bool], None] | None = None
    try:
        with curs.connection.transaction():
            end = within(curs, ids)
    except Exception as error:  # the read model's failure, never the write's
        log.debug("events not applied in their own transaction: %s", error)
        if end is not None:
            end(False)
        return
    ended.append(end)


class WakingPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, waking this process's readers once it has
    committed (other processes hear the library's NOTIFY), with the reads the library has
    no query for."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
        _wake_listeners()
        return notification_ids

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """The library's insert (its table lock, its NOTIFY, the same rows, numbered in
        the order given), with the events sent as four arrays of plain columns rather
        than one array of its composite type, whose encoding in Python was most of a
        bulk write's cost on PostgreSQL (benchmarks/findings.py), in binary: the text
        form of 100,000 events' arrays took 2.6 s to make, the binary 0.4 s.

        The new targets' keys go in the events' statement (a data-changing WITH), not in
        a statement of their own, and the NOTIFY before the table lock: every writer waits
        on that lock, and each statement it holds it across is a round trip more that no
        other writer can use (the NOTIFY is sent at commit wherever it is in the
        transaction)."""
        events = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{2}[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(
            Identifier(self.datastore.schema),
            Identifier(self.events_table_name),
            SQL(self.datastore.originator_id_type),
        )
        keyed = _keyed(stored_events)
        keys = SQL(
            "WITH keys AS (INSERT INTO {0}.{1} (target_id, key) "
            "SELECT * FROM unnest(%b::uuid[], %b::bytea[])) "
        ).format(Identifier(self.datastore.schema), Identifier(TARGET_KEYS_TABLE))
        self._notify_channel(curs)
        self._lock_table(curs)
        # At most INSERT_MAX events a statement, all in the one transaction: a single
        # statement of 100,000 events (an outdial's erasure) left the connection waiting
        # on itself, the server reading a message the client never finished sending.
        chunks = [
            stored_events[start : start + INSERT_MAX]
            for start in range(0, len(stored_events), INSERT_MAX)
        ]
        columns = [
            (
                [e.originator_id for e in chunk],
                [e.originator_version for e in chunk],
                [e.topic for e in chunk],
                [e.state for e in chunk],
            )
            for chunk in chunks
        ]
        if keyed:  # every key with the first statement's events
            given = [([e.originator_id for e in keyed], [e.new_key for e in keyed])]
            given += [([], [])] * (len(chunks) - 1)
            curs.executemany(
                keys + events,
                [(*k, *c) for k, c in zip(given, columns, strict=True)],
                returning=True,
            )
        else:
            curs.executemany(events, columns, returning=True)

    def refresh_statistics(self) -> None:
        """The query planner's statistics of the events and keys tables, after a bulk
        load: without them it planned the reads of a dispatch's targets' events for the
        few rows it saw before (about 110 ms a read after a load of 1,000,000)."""
        statement = SQL("ANALYZE {0}.{1}, {0}.{2}").format(
            Identifier(self.datastore.schema),
            Identifier(self.events_table_name),
            Identifier(TARGET_KEYS_TABLE),
        )
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(statement)

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The notification ids of every INSERT ... RETURNING of the insert, in order."""
        notification_ids: list[int] = []
        while True:
            if curs.description is not None and (curs.statusmessage or "").startswith("INSERT"):
                notification_ids += [row["notification_id"] for row in curs.fetchall()]
            if not curs.nextset():
                break
        if len(notification_ids) != len(stored_events):
            msg = f"got {len(notification_ids)} notification ids for {len(stored_events)} events"
            raise ProgrammingError(msg)
        if "within" in kwargs:
            _apply_within(curs, notification_ids, kwargs["within"], kwargs["ended"])
        return notification_ids

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every stored event of some aggregates, by aggregate then version, in one query."""
        rows = self._select(
            "ORDER BY originator_id, originator_version", _STORED, list(originator_ids)
        )
        return [_stored(row) for row in rows]

    def existing_originators(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Those of some aggregate ids that have events, in one query on the primary key."""
        rows = self._select("AND originator_version = 1", "originator_id", list(originator_ids))
        return {as_uuid(row["originator_id"]) for row in rows}

    def first_events_lacking(self, originator_ids: Sequence[UUID], mark: bytes) -> list[UUID]:
        """Those of some aggregate ids whose first event's state lacks ``mark``, in one
        query on the primary key."""
        rows = self._select(
            "AND originator_version = 1 AND position(%s::bytea in state) = 0",
            "originator_id",
            list(originator_ids),
            mark,
        )
        return [as_uuid(row["originator_id"]) for row in rows]

    def _select(self, then: str, columns: str, originator_ids: list[UUID], *more: Any) -> list[Any]:
        """``columns`` of these aggregates' events, ``then`` (with ``more`` parameters)."""
        statement = SQL(
            f"SELECT {columns} FROM {{0}}.{{1}} WHERE originator_id = ANY(%b) {then}"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (originator_ids, *more), prepare=True)
            return cursor.fetchall()

    @contextmanager
    def stored_by_aggregate(self, until: int) -> Iterator[Iterator[StoredEvent]]:
        """Every event up to notification ``until``, by aggregate then version, streamed
        by a server-side cursor."""
        statement = SQL(
            f"SELECT {_STORED} FROM {{0}}.{{1}} WHERE notification_id <= %s "
            "ORDER BY originator_id, originator_version"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with (
            self.datastore.transaction(commit=False) as cursor,
            cursor.connection.cursor(name="outdial_aggregates") as named,
        ):
            lift_idle_limit(cursor)
            named.itersize = STREAM_BATCH
            named.execute(statement, (until,))
            yield (_stored(row) for row in named)


def _keyed(stored_events: Sequence[StoredEvent]) -> list[KeyedStoredEvent]:
    return [e for e in stored_events if isinstance(e, KeyedStoredEvent)]


def lift_idle_limit(cursor: Any) -> None:
    """Lift, for the rest of this transaction, the limit the library sets on every
    connection (POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT, 5 s): a stream read beside
    another (verify merges the events with the read model's rows) sits idle in its
    transaction while the other is read, which at a million targets is longer than that."""
    cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        as_uuid(row["originator_id"]),
        row["originator_version"],
        row["topic"],
        bytes(row["state"]),
    )


def _stored_row(row: Any) -> StoredEvent:
    """A row of (originator_id, originator_version, topic, state) as SQLite gives it."""
    return StoredEvent(UUID(row[0]), row[1], row[2], row[3])


def as_uuid(value: UUID | str) -> UUID:
    """An id as a row holds it: PostgreSQL's uuid column gives a UUID, SQLite's text."""
    return value if isinstance(value, UUID) else UUID(value)


def recorder_topic(cls: type) -> str:
    """The library's topic of a recorder class (APPLICATION_RECORDER_TOPIC)."""
    return f"{cls.__module__}:{cls.__qualname__}"


@contextmanager
def unsynced_commits(recorder: ApplicationRecorder) -> Iterator[None]:
    """Commits inside the block do not each wait for the disk, and all of them are on it
    when the block ends: for a bulk writer whose every write can be made again (an import
    run again creates nothing twice), which a power loss in the block may lose, never
    corrupt. Only SQLite's recorder has such a mode; others commit as always."""
    if not isinstance(recorder, WakingSQLiteApplicationRecorder):
        yield
        return
    recorder.syncs_each_commit = False
    try:
        yield
    finally:
        recorder.syncs_each_commit = True
        recorder.sync()


def refresh_statistics(recorder: ApplicationRecorder) -> None:
    """After a bulk load, the planner's statistics of the event store's tables (only
    PostgreSQL keeps any; SQLite's reads go by the primary key)."""
    if isinstance(recorder, WakingPostgresApplicationRecorder):
        recorder.refresh_statistics()


def sqlite_file(recorder: ApplicationRecorder) -> str | None:
    """The file of a SQLite event store (None in memory or on another store)."""
    if not isinstance(recorder, SQLiteApplicationRecorder):
        return None
    pool = recorder.datastore.pool
    return None if pool.is_sqlite_memory_mode else str(pool.db_name)


def notify_channel(recorder: ApplicationRecorder) -> str | None:
    """The channel the PostgreSQL recorder NOTIFYs on as it inserts (None elsewhere)."""
    if not isinstance(recorder, PostgresApplicationRecorder):
        return None
    return str(recorder.channel_name)


# -- the read model's transactions and tracking ------------------------------------------


@contextmanager
def sqlite_write_connection(view: SQLiteTrackingRecorder) -> Iterator[Any]:
    """A connection of the view's pool for one write transaction the caller begins."""
    with view.datastore.get_connection(commit=True) as connection:
        yield connection


@contextmanager
def transaction(view: TrackingRecorder, *, commit: bool) -> Iterator[Any]:
    """A cursor in a transaction of the view's datastore (committed when asked)."""
    datastore: Any = view.datastore  # type: ignore[attr-defined]  # both stores' views have one
    with datastore.transaction(commit=commit) as cursor:
        yield cursor


@contextmanager
def postgres_connection(view: PostgresTrackingRecorder) -> Iterator[Any]:
    """A connection of the view's pool (autocommit: one statement, no BEGIN/ROLLBACK)."""
    with view.datastore.get_connection() as connection:
        yield connection


def stream_sqlite_rows(cursor: Any, table: str, order_by: tuple[str, ...]) -> Iterator[Any]:
    """Every row of ``table`` in a transaction of the library's SQLite cursor: by a
    cursor of its own on the same connection (the same snapshot), so that several
    streams are read side by side."""
    own = cursor.sqlite_cursor.connection.cursor()
    try:
        own.execute(f"SELECT * FROM {table} ORDER BY {', '.join(order_by)}")
        while batch := own.fetchmany(STREAM_BATCH):
            yield from (dict(row) for row in batch)
    finally:
        own.close()


def stream_postgres_rows(cursor: Any, table: str, order_by: tuple[str, ...]) -> Iterator[Any]:
    """Every row of ``table`` in the byte order of its text columns (as SQLite sorts), by
    a server-side cursor in the transaction of the library's psycopg cursor."""
    order = ", ".join(f'{column} COLLATE "C"' for column in order_by)
    with cursor.connection.cursor(name=f"outdial_{table}") as named:
        named.itersize = STREAM_BATCH
        named.execute(f"SELECT * FROM {table} ORDER BY {order}")
        yield from (dict(row) for row in named)


def sqlite_path(view: SQLiteTrackingRecorder) -> str:
    return str(view.datastore.pool.db_name)


def insert_tracking(view: TrackingRecorder, cursor: Any, tracking: Tracking) -> None:
    """Record ``tracking`` in the view's tracking table inside the caller's transaction;
    IntegrityError unless it is past the position recorded."""
    view._insert_tracking(cursor, tracking)  # type: ignore[attr-defined]


def tracking_table(view: TrackingRecorder) -> str:
    """The library's tracking table of the view's store."""
    if isinstance(view, PostgresTrackingRecorder):
        return view.tracking_table_name
    return "tracking"


def close(view: TrackingRecorder) -> None:
    view.datastore.close()  # type: ignore[attr-defined]  # both stores' views have one
