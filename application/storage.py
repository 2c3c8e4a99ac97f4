"""Where the events live: the embedded SQLite store, PostgreSQL, or memory for tests.

Every entrypoint finds the store the same way: an explicit database URL, else a data
directory holding SQLite files. Each store also says when new events may have been
appended (``AppendSignal``), so readers of the log need not query it on a timer.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

import psycopg
from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

log = logging.getLogger(__name__)

# Seconds a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 5  # the key and idempotency tables: short lookups and writes
LISTEN_CONNECT_TIMEOUT_S = 2
# How long a small table's pool (keys, idempotency) waits for a connection.
POOL_WAIT_S = 5.0
# How often the embedded store looks whether another process wrote events (a PRAGMA).
SQLITE_WATCH_INTERVAL_S = 0.05
EVENTS_DBNAME = "events.sqlite3"


# Signals of this process, set at once when this process records events.
_LISTENERS: set[threading.Event] = set()
_LISTENERS_LOCK = threading.Lock()


def _wake_listeners() -> None:
    with _LISTENERS_LOCK:
        for listener in _LISTENERS:
            listener.set()


class WakingSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, waking this process's readers once it has committed."""

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


@contextmanager
def unsynced_commits(recorder: ApplicationRecorder) -> Iterator[None]:
    """Commits inside the block do not each wait for the disk, and all of them are on it
    when the block ends: for a bulk writer whose every write can be made again (an import
    run again creates nothing twice), which a power loss in the block may lose, never
    corrupt. On SQLite a commit that waits for the disk cost an import 12-17 % of its
    time; other stores commit as always."""
    if not isinstance(recorder, WakingSQLiteApplicationRecorder):
        yield
        return
    recorder.syncs_each_commit = False
    try:
        yield
    finally:
        recorder.syncs_each_commit = True
        recorder.sync()


class WakingPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, waking this process's readers once it has
    committed (other processes hear the library's NOTIFY)."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
        _wake_listeners()
        return notification_ids


def _topic(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class AppendSignal:
    """Says when events may have been appended to one store's log.

    Appends of this process set it at once. Other processes' appends are heard through
    PostgreSQL's LISTEN/NOTIFY, or on SQLite by a cheap change check: ``PRAGMA
    data_version`` on a connection kept open, which moves whenever another connection
    commits, so nobody queries the log on a timer.
    """

    def __init__(self, recorder: ApplicationRecorder) -> None:
        # False while the PostgreSQL server cannot be reached (the listening connection
        # broke and cannot be made again): writes are refused at once rather than hang.
        self.reachable = True
        self._appended = threading.Event()
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        with _LISTENERS_LOCK:
            _LISTENERS.add(self._appended)
        if isinstance(recorder, PostgresApplicationRecorder):
            self._watcher = threading.Thread(
                target=self._listen, args=(recorder,), name="events-listen", daemon=True
            )
        elif (
            isinstance(recorder, SQLiteApplicationRecorder)
            and not recorder.datastore.pool.is_sqlite_memory_mode
        ):
            self._watcher = threading.Thread(
                target=self._watch,
                args=(recorder.datastore.pool.db_name,),
                name="events-watch",
                daemon=True,
            )
        if self._watcher is not None:
            self._watcher.start()

    def wait(self, timeout: float) -> None:
        if self._appended.wait(timeout):
            self._appended.clear()

    def wake(self) -> None:
        self._appended.set()

    def close(self) -> None:
        with _LISTENERS_LOCK:
            _LISTENERS.discard(self._appended)
        self._closed.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)

    def _watch(self, db_name: str) -> None:
        """Look at the database's change counter every few milliseconds."""
        connection = sqlite3.connect(db_name, uri=True, check_same_thread=False)
        try:
            seen = connection.execute("PRAGMA data_version").fetchone()[0]
            while not self._closed.is_set():
                time.sleep(SQLITE_WATCH_INTERVAL_S)  # cheaper than a timed wait on an event
                now = connection.execute("PRAGMA data_version").fetchone()[0]
                if now != seen:
                    seen = now
                    self._appended.set()
        except sqlite3.Error:
            log.warning("lost sight of the event store's changes", exc_info=True)
            self._appended.set()
        finally:
            connection.close()

    def _listen(self, recorder: PostgresApplicationRecorder) -> None:
        """Hold a connection of its own that LISTENs on the channel the library NOTIFYs on
        insert; it is also the first to know the server went away, and came back."""
        pool = recorder.datastore.pool
        # The library's pool was made with a conninfo string and a dict of keywords.
        given: dict[str, Any] = pool.kwargs if isinstance(pool.kwargs, dict) else {}
        kwargs = {k: v for k, v in given.items() if k != "row_factory"}
        conninfo = pool.conninfo if isinstance(pool.conninfo, str) else ""
        listen = SQL("LISTEN {0}").format(Identifier(recorder.channel_name))
        while not self._closed.is_set():
            try:
                with psycopg.connect(
                    conninfo,
                    **kwargs,
                    connect_timeout=LISTEN_CONNECT_TIMEOUT_S,
                    autocommit=True,
                ) as connection:
                    connection.execute(listen)
                    if not self.reachable:
                        log.info("the event store can be reached again")
                    self.reachable = True
                    self._appended.set()  # what was appended meanwhile is waiting
                    while not self._closed.is_set():
                        for _ in connection.notifies(timeout=0.2, stop_after=1):
                            self._appended.set()
            except Exception:
                # Readers fall back to their timeout; writers are refused meanwhile.
                if self.reachable:
                    log.warning("lost the event store's connection; trying again every 0.5 s")
                self.reachable = False
                self._appended.set()
                self._closed.wait(0.5)


@dataclass(frozen=True)
class Storage:
    """One of: ``database_url`` (PostgreSQL), ``data_dir`` (SQLite files), or memory."""

    data_dir: Path | None = None
    database_url: str | None = None
    # PostgreSQL: each process's pool, and how long to wait for a statement. Both: how
    # long to wait for a connection, or for another process's write lock on SQLite (a
    # write blocked longer answers 503 rather than hang).
    pool_size: int = 5
    max_overflow: int = 2
    connect_timeout: float = 5.0
    statement_timeout: float = 30.0

    @classmethod
    def in_memory(cls) -> Storage:
        return cls()

    @property
    def kind(self) -> str:
        if self.database_url:
            return "postgres"
        return "sqlite" if self.data_dir is not None else "memory"

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing environment for the application's own event store."""
        if self.database_url:
            return {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "APPLICATION_RECORDER_TOPIC": _topic(WakingPostgresApplicationRecorder),
                **postgres_env(self.database_url),
                "POSTGRES_POOL_SIZE": str(self.pool_size),
                "POSTGRES_MAX_OVERFLOW": str(self.max_overflow),
                "POSTGRES_CONNECT_TIMEOUT": str(max(1, round(self.connect_timeout))),
            }
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / EVENTS_DBNAME),
                "SQLITE_LOCK_TIMEOUT": str(max(1, round(self.connect_timeout))),
                "APPLICATION_RECORDER_TOPIC": _topic(WakingSQLiteApplicationRecorder),
            }
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def small_table_connection(path: str) -> sqlite3.Connection:
    """One connection to a small SQLite file of the service's own (keys, idempotency),
    shared by a process's threads: autocommit, a short busy wait, and WAL, so its readers
    never block a writer in another process (`outdial keys create` while `serve` runs)."""
    connection = sqlite3.connect(
        path, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
    )
    if path != ":memory:":
        connection.execute("PRAGMA journal_mode=WAL")
    return connection


def postgres_env(database_url: str) -> dict[str, str]:
    """The library's POSTGRES_* settings from a ``postgresql://user:pass@host:port/db`` URL."""
    url = urlparse(database_url)
    if url.scheme not in ("postgres", "postgresql") or not url.path.strip("/"):
        msg = f"not a PostgreSQL URL (postgresql://user:pass@host:port/db): {database_url!r}"
        raise ValueError(msg)
    return {
        "POSTGRES_DBNAME": unquote(url.path.lstrip("/")),
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
    }


class StoreUnreachable(Exception):
    """The store named by the settings cannot be used; the message says which and why."""


def check_reachable(storage: Storage) -> None:
    """Fail fast, in one line naming host, port and database, when PostgreSQL does not
    answer or the database does not exist (the library's pool would retry for minutes)."""
    if not storage.database_url:
        return
    env = postgres_env(storage.database_url)
    where = f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}, database {env['POSTGRES_DBNAME']!r}"
    try:
        connection = psycopg.connect(
            storage.database_url, connect_timeout=max(1, round(storage.connect_timeout))
        )
    except psycopg.Error as error:
        # libpq's message: what failed, prefixed by where (said already), each line
        # followed by any hint on a tab-indented line of its own.
        parts: list[str] = []
        for line in str(error).splitlines():
            text = " ".join(line.split())
            text = re.sub(r"^connection failed: ", "", text)
            text = re.sub(r"connection to server (at|on socket) .*? failed: ", "", text)
            text = re.sub(r"^(FATAL|ERROR): ", "", text)
            if not text:
                continue
            if text[:2].istitle():  # "Connection refused", not "SSL"
                text = text[0].lower() + text[1:]
            if line.startswith((" ", "\t")) and parts:
                parts[-1] += f" ({text})"
            else:
                parts.append(text)
        reason = "; ".join(parts) or type(error).__name__
        msg = f"cannot use PostgreSQL at {where}: {reason}"
        raise StoreUnreachable(msg) from None
    connection.close()


def apply_statement_timeout(storage: Storage) -> None:
    """PostgreSQL sessions this process opens cancel statements running longer than the
    storage's statement timeout (libpq reads PGOPTIONS when it connects)."""
    if storage.database_url and storage.statement_timeout > 0:
        option = f"-c statement_timeout={int(storage.statement_timeout * 1000)}"
        existing = os.environ.get("PGOPTIONS", "")
        if "statement_timeout" not in existing:
            os.environ["PGOPTIONS"] = f"{existing} {option}".strip()


def select_events_of(
    recorder: ApplicationRecorder, originator_ids: Sequence[UUID]
) -> list[StoredEvent]:
    """Every stored event of some aggregates, by aggregate then version, in one query
    (the library's recorders read one aggregate a query)."""
    rows = _events_of(
        recorder,
        "originator_id, originator_version, topic, state",
        "ORDER BY originator_id, originator_version",
        originator_ids,
    )
    if rows is None:
        return [event for i in originator_ids for event in recorder.select_events(i)]
    return [
        StoredEvent(
            _as_uuid(row["originator_id"]),
            row["originator_version"],
            row["topic"],
            bytes(row["state"]),
        )
        for row in rows
    ]


def existing_originators(
    recorder: ApplicationRecorder, originator_ids: Sequence[UUID]
) -> set[UUID]:
    """Those of some aggregate ids that have events, in one query on the primary key."""
    rows = _events_of(recorder, "originator_id", "AND originator_version = 1", originator_ids)
    if rows is None:
        return {i for i in originator_ids if recorder.select_events(i, limit=1)}
    return {_as_uuid(row["originator_id"]) for row in rows}


def _as_uuid(value: UUID | str) -> UUID:
    """An id as a row holds it: PostgreSQL's uuid column gives a UUID, SQLite's text hex."""
    return value if isinstance(value, UUID) else UUID(value)


def _events_of(
    recorder: ApplicationRecorder, columns: str, then: str, originator_ids: Sequence[UUID]
) -> list[Any] | None:
    """``SELECT columns`` of the stored events of some aggregates, ``then`` following the
    WHERE clause (both fixed text of this module); None for a store without SQL."""
    if isinstance(recorder, PostgresApplicationRecorder):
        statement = SQL(
            f"SELECT {columns} FROM {{0}}.{{1}} WHERE originator_id = ANY(%s) {then}"  # type: ignore[arg-type]
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (list(originator_ids),), prepare=True)
            return cursor.fetchall()
    if isinstance(recorder, SQLiteApplicationRecorder):
        marks = ",".join("?" * len(originator_ids))
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {recorder.events_table_name} "
                f"WHERE originator_id IN ({marks}) {then}",
                [i.hex for i in originator_ids],
            )
            return list(cursor.fetchall())
    return None
