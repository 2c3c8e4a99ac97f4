"""The contract between the service and the `eventsourcing` library beyond its documented
API: every touchpoint of adapters/library.py, and the library's cursors that
projections/rows.py reaches into. Each test checks one against the library's public
reads or plain SQL on the store, and fails, naming it, when an upgrade changes it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    StoredEvent,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import resolve_topic
from psycopg.pq import TransactionStatus
from psycopg.sql import SQL, Identifier

from adapters import library
from adapters.library import (
    WakingPostgresApplicationRecorder,
    WakingSQLiteApplicationRecorder,
    recorder_topic,
)
from adapters.read_model_store import (
    READ_MODEL_DBNAME,
    PostgresReadModelView,
    SQLiteReadModelView,
    open_store,
)
from adapters.stores import EVENTS_DBNAME, Storage
from application.service import OutdialService
from projections.store import VIEW_NAME, ReadModelView
from tests.conftest import FakeClock, new_target

WAKING = {"sqlite": WakingSQLiteApplicationRecorder, "postgres": WakingPostgresApplicationRecorder}
APP = OutdialService.name
TOPIC = "contract:Event"


@pytest.fixture
def sqlite_service(sqlite_storage: Storage) -> Iterator[OutdialService]:
    service = OutdialService(sqlite_storage.event_store_env(), clock=FakeClock())
    yield service
    service.close()


@pytest.fixture
def postgres_service(postgres_storage: Storage) -> Iterator[OutdialService]:
    service = OutdialService(postgres_storage.event_store_env(), clock=FakeClock())
    yield service
    service.close()


def _record(recorder: ApplicationRecorder, *batches: Sequence[tuple[UUID, int]]) -> list[int]:
    """Records each batch of (aggregate, version) by the library's public insert, one
    commit a batch; the notification ids the library gave them."""
    ids: list[int] = []
    for batch in batches:
        stored = [StoredEvent(a, v, TOPIC, f"{a}/{v}".encode()) for a, v in batch]
        ids += recorder.insert_events(stored) or []
    return ids


def _fields(event: StoredEvent) -> tuple[Any, ...]:
    return (event.originator_id, event.originator_version, event.topic, bytes(event.state))


def _interleaved(recorder: ApplicationRecorder) -> tuple[list[UUID], list[int]]:
    """Three aggregates' events recorded interleaved across four commits."""
    a, b, c = uuid4(), uuid4(), uuid4()
    ids = _record(recorder, [(a, 1), (b, 1)], [(a, 2)], [(c, 1), (b, 2)], [(a, 3), (c, 2)])
    return [a, b, c], ids


def _own_connection(storage: Storage, dbname: str) -> Any:
    """A plain connection of the test's own on a store (not the library's)."""
    if storage.database_url:
        return psycopg.connect(storage.database_url, autocommit=True)
    assert storage.data_dir is not None
    return sqlite3.connect(storage.data_dir / dbname)


# -- the event store's recorders -----------------------------------------------------------


def test_the_recorder_topic_names_the_recorder_the_library_constructs(
    storage: Storage, stored_service: OutdialService
) -> None:
    """Guards APPLICATION_RECORDER_TOPIC and ``recorder_topic``: the library resolves the
    topic the service gives to the service's own recorder class, and constructs it."""
    expected = WAKING[storage.kind]
    topic = storage.event_store_env()["APPLICATION_RECORDER_TOPIC"]
    assert topic == recorder_topic(expected)
    assert resolve_topic(topic) is expected
    assert type(stored_service.recorder) is expected


def test_a_commit_wakes_the_listeners_once_its_events_are_readable(
    stored_service: OutdialService,
) -> None:
    """Guards the ``insert_events`` override and ``listen_for_commits``: every save goes
    through it, and wakes a listener only once the library has committed."""
    recorder = stored_service.recorder
    seen: list[int | None] = []

    class Listener(threading.Event):
        def set(self) -> None:
            seen.append(recorder.max_notification_id())
            super().set()

    listener = Listener()
    library.listen_for_commits(listener)
    try:
        written = stored_service.create_outdial(uuid4())
    finally:
        library.stop_listening(listener)
    assert listener.is_set()
    assert written.position is not None
    assert seen == [written.position]
    stored_service.create_outdial(uuid4())
    assert seen == [written.position]  # no longer listening


def test_unsynced_commits_record_and_number_events_as_an_insert_does(
    sqlite_service: OutdialService,
) -> None:
    """Guards ``unsynced_commits`` on SQLite, which replaces the library's insert by its
    ``_insert_events`` on a connection of ``datastore.get_connection(commit=True)``:
    events are numbered on from the synced ones, wake listeners, and read back as the
    library's own insert records them; ``sync`` finds the write-ahead log by
    ``pool.db_name``."""
    recorder = sqlite_service.recorder
    assert isinstance(recorder, WakingSQLiteApplicationRecorder)
    a, b = uuid4(), uuid4()
    listener = threading.Event()
    library.listen_for_commits(listener)
    try:
        before = _record(recorder, [(a, 1)])
        with library.unsynced_commits(recorder):
            listener.clear()
            inside = _record(recorder, [(a, 2), (b, 1)], [(b, 2)])
            assert listener.is_set()
            assert recorder.syncs_each_commit is False
        after = _record(recorder, [(a, 3)])
    finally:
        library.stop_listening(listener)
    ids = before + inside + after
    assert ids == list(range(ids[0], ids[0] + 5))
    notifications = recorder.select_notifications(start=ids[0], limit=10)
    assert [n.id for n in notifications] == ids
    expected = [(a, 1), (a, 2), (b, 1), (b, 2), (a, 3)]
    assert [_fields(n) for n in notifications] == [
        (i, v, TOPIC, f"{i}/{v}".encode()) for i, v in expected
    ]
    assert Path(f"{recorder.datastore.pool.db_name}-wal").is_file()


def test_unsynced_commits_refuse_a_conflicting_batch_whole_as_an_insert_does(
    sqlite_service: OutdialService,
) -> None:
    """Guards ``unsynced_commits``: a batch with a version already recorded raises the
    library's IntegrityError (a lost race becomes ConcurrentChange) and records nothing
    of the batch, as the library's own insert does."""
    recorder = sqlite_service.recorder
    a = uuid4()
    _record(recorder, [(a, 1)])
    for unsynced in (False, True):
        fresh = uuid4()
        if unsynced:
            with library.unsynced_commits(recorder), pytest.raises(IntegrityError):
                _record(recorder, [(fresh, 1), (a, 1)])
        else:
            with pytest.raises(IntegrityError):
                _record(recorder, [(fresh, 1), (a, 1)])
        assert recorder.select_events(fresh) == []
    assert recorder.max_notification_id() == 1


def test_select_events_reads_what_the_librarys_own_query_reads(
    stored_service: OutdialService,
) -> None:
    """Guards the SQLite recorder's ``select_events`` on a connection of its own: every
    combination of bounds, order and limit answers what the library's query answers,
    and a commit is seen by the next read."""
    recorder: Any = stored_service.recorder
    ids, _ = _interleaved(recorder)
    library_query = super(type(recorder), recorder).select_events
    for aggregate in (*ids, uuid4()):
        for gt, lte, desc, limit in [
            (None, None, False, None),
            (1, None, False, None),
            (None, 2, True, None),
            (1, 3, False, 1),
            (None, None, True, 2),
        ]:
            ours = recorder.select_events(aggregate, gt=gt, lte=lte, desc=desc, limit=limit)
            theirs = library_query(aggregate, gt=gt, lte=lte, desc=desc, limit=limit)
            assert [_fields(e) for e in ours] == [_fields(e) for e in theirs]
    _record(recorder, [(ids[0], 4)])
    assert [e.originator_version for e in recorder.select_events(ids[0], gt=3)] == [4]


def test_select_events_of_reads_what_select_events_reads(stored_service: OutdialService) -> None:
    """Guards ``select_events_of`` (its SQL on ``events_table_name``, the ids' column
    type, ``datastore.schema`` on PostgreSQL): the events of several aggregates, by
    aggregate then version, as the library's ``select_events`` reads them."""
    recorder: Any = stored_service.recorder
    ids, _ = _interleaved(recorder)
    asked = [ids[2], ids[0], uuid4()]
    expected = [_fields(e) for i in sorted(asked) for e in recorder.select_events(i)]
    assert len(expected) == 5
    assert [_fields(e) for e in recorder.select_events_of(asked)] == expected
    assert recorder.select_events_of([]) == []


def test_existing_originators_are_those_select_events_finds(stored_service: OutdialService) -> None:
    """Guards ``existing_originators`` (its SQL on ``events_table_name``, the rows' id
    column type): of some ids, those the library's ``select_events`` finds events of."""
    recorder: Any = stored_service.recorder
    ids, _ = _interleaved(recorder)
    asked = [*ids, uuid4(), uuid4()]
    expected = {i for i in asked if recorder.select_events(i, limit=1)}
    assert expected == set(ids)
    assert recorder.existing_originators(asked) == expected
    assert recorder.existing_originators([]) == set()


# Its server-side cursor on PostgreSQL is closed, not left to the garbage collector.
@pytest.mark.filterwarnings(
    "error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning"
)
def test_stored_by_aggregate_holds_the_notifications_up_to_a_position(
    stored_service: OutdialService,
) -> None:
    """Guards ``stored_by_aggregate(until)`` (the rebuild's read): every event whose
    notification id is at most ``until``, by aggregate then version, as the library's
    ``select_notifications`` numbers them; on SQLite the notification id is the events
    table's rowid, read on a connection opened on ``pool.db_name``."""
    recorder: Any = stored_service.recorder
    _, ids = _interleaved(recorder)
    notifications = recorder.select_notifications(start=1, limit=100)
    assert [n.id for n in notifications] == ids
    for until in (0, *ids):
        expected = sorted(
            (_fields(n) for n in notifications if n.id <= until), key=lambda f: (f[0], f[1])
        )
        with recorder.stored_by_aggregate(until) as stored:
            assert [_fields(e) for e in stored] == expected, until


def test_sqlite_events_table_holds_hex_ids_and_numbers_notifications_by_rowid(
    sqlite_storage: Storage, sqlite_service: OutdialService
) -> None:
    """Guards the SQLite events table's layout the service's SQL assumes: the table
    ``events_table_name`` in the file of ``pool.db_name``, its columns, its ids as text
    hex, and its rowid as the library's notification id."""
    recorder: Any = sqlite_service.recorder
    _interleaved(recorder)
    notifications = recorder.select_notifications(start=1, limit=100)
    assert recorder.datastore.pool.db_name == sqlite_storage.event_store_env()["SQLITE_DBNAME"]
    with closing(_own_connection(sqlite_storage, EVENTS_DBNAME)) as connection:
        table = recorder.events_table_name
        columns = {r[1]: r[2] for r in connection.execute(f"PRAGMA table_info({table})")}
        rows = connection.execute(
            f"SELECT rowid, originator_id, originator_version FROM {table} ORDER BY rowid"
        ).fetchall()
    assert columns == {
        "originator_id": "TEXT",
        "originator_version": "INTEGER",
        "topic": "TEXT",
        "state": "BLOB",
    }
    assert rows == [(n.id, n.originator_id.hex, n.originator_version) for n in notifications]


@pytest.mark.postgres
def test_postgres_insert_numbers_and_stores_events_as_the_librarys_own_insert(
    postgres_service: OutdialService,
) -> None:
    """Guards the PostgreSQL recorder's own insert (arrays of columns, with the library's
    lock and NOTIFY, ``_fetch_ids_after_insert_events`` reading its RETURNING): events
    numbered in the order given, stored byte for byte, a duplicate refused whole, as the
    library's composite-array insert does, which writes the same table after it."""
    recorder: Any = postgres_service.recorder
    b, a = uuid4(), uuid4()
    ours = [StoredEvent(b, 1, TOPIC, b"\x00b1"), StoredEvent(a, 1, TOPIC, b"a1\xff")]
    ids = recorder.insert_events(ours)
    assert len(ids) == 2
    assert ids == sorted(ids)
    library_insert = super(type(recorder), recorder)._insert_stored_events
    with recorder.datastore.transaction(commit=True) as cursor:
        library_insert(cursor, [StoredEvent(a, 2, TOPIC, b"a2")])
    found = recorder.select_notifications(start=ids[0], limit=10)
    assert [(n.originator_id, n.originator_version, bytes(n.state)) for n in found] == [
        (b, 1, b"\x00b1"),
        (a, 1, b"a1\xff"),
        (a, 2, b"a2"),
    ]
    assert [n.id for n in found][:2] == ids
    with pytest.raises(IntegrityError):
        recorder.insert_events([StoredEvent(uuid4(), 1, TOPIC, b""), ours[0]])
    assert len(recorder.select_notifications(start=1, limit=10)) == 3


@pytest.mark.postgres
def test_postgres_insert_applies_within_its_transaction_what_it_is_given(
    postgres_service: OutdialService, postgres_storage: Storage
) -> None:
    """Guards that the library's insert passes its keyword arguments on to
    ``_fetch_ids_after_insert_events``, in its transaction: ``within`` is given the
    numbered events, what it writes commits with them, and what it fails on is rolled
    back alone (the live projection's write of a group's rows, projections/runner.py)."""
    recorder: Any = postgres_service.recorder
    assert postgres_storage.database_url is not None
    table = Identifier(recorder.datastore.schema, recorder.events_table_name)
    seen: list[int] = []
    ended: list[Any] = []

    def within(cursor: Any, ids: Sequence[int]) -> Any:
        counted = SQL("SELECT count(*) AS n FROM {0} WHERE notification_id = ANY(%s)")
        cursor.execute(counted.format(table), (list(ids),))
        seen.append(cursor.fetchone()["n"])
        cursor.execute("CREATE TABLE within_probe (n int)")
        return "applied"

    def failing(cursor: Any, ids: Sequence[int]) -> Any:
        cursor.execute("INSERT INTO within_probe VALUES (1)")
        msg = "the read model's part failed"
        raise RuntimeError(msg)

    recorder.insert_events([StoredEvent(uuid4(), 1, TOPIC, b"")], within=within, ended=ended)
    assert (seen, ended) == ([1], ["applied"])
    after_failing: list[Any] = []
    recorder.insert_events(
        [StoredEvent(uuid4(), 1, TOPIC, b"")], within=failing, ended=after_failing
    )
    assert after_failing == []
    assert len(recorder.select_notifications(start=1, limit=10)) == 2
    with psycopg.connect(postgres_storage.database_url) as other:
        assert other.execute("SELECT count(*) FROM within_probe").fetchone() == (0,)


def test_what_was_applied_within_is_ended_unapplied_when_its_savepoint_fails() -> None:
    """The savepoint failing after the apply (its release refused) leaves the apply's
    end unlisted for the commit, and called at once as not committed: the projection's
    lock, held until then, is never left taken."""

    class Refusing:
        @contextmanager
        def transaction(self) -> Iterator[None]:
            yield
            msg = "the savepoint could not be released"
            raise psycopg.OperationalError(msg)

    cursor = SimpleNamespace(connection=Refusing())
    told: list[bool] = []
    ended: list[Any] = []
    library._apply_within(cursor, [7], lambda _cursor, _ids: told.append, ended)
    assert (told, ended) == ([False], [])


def test_an_insert_retried_ends_what_its_first_attempt_applied_as_not_committed() -> None:
    """The library retries an insert whose connection was lost: what the first attempt
    applied within its transaction is ended as not committed before the second applies."""

    class Savepoints:
        @contextmanager
        def transaction(self) -> Iterator[None]:
            yield

    cursor = SimpleNamespace(connection=Savepoints())
    told: list[tuple[str, bool]] = []
    ended: list[Any] = []

    def attempt(name: str) -> Callable[[Any, Sequence[int]], Callable[[bool], None]]:
        return lambda _cursor, _ids: lambda committed: told.append((name, committed))

    for name in ("first", "second"):
        library._apply_within(cursor, [7], attempt(name), ended)
    assert told == [("first", False)]
    assert len(ended) == 1
    ended[0](True)
    assert told == [("first", False), ("second", True)]


@pytest.mark.postgres
def test_postgres_insert_waits_for_the_events_tables_lock_as_the_librarys_does(
    postgres_service: OutdialService, postgres_storage: Storage
) -> None:
    """Guards that the insert takes the library's table lock (``_lock_table``) before the
    events are numbered: a transaction holding a lock that conflicts with it holds back
    every insert."""
    recorder: Any = postgres_service.recorder
    assert postgres_storage.database_url is not None
    table = Identifier(recorder.datastore.schema, recorder.events_table_name)
    with psycopg.connect(postgres_storage.database_url) as holder:
        # ROW SHARE holds back the library's EXCLUSIVE lock, not an INSERT's own lock.
        holder.execute(SQL("LOCK TABLE {0} IN ROW SHARE MODE").format(table))
        inserted = threading.Event()

        def insert() -> None:
            recorder.insert_events([StoredEvent(uuid4(), 1, TOPIC, b"")])
            inserted.set()

        writer = threading.Thread(target=insert)
        writer.start()
        assert not inserted.wait(0.5)  # held back by the lock
        holder.rollback()
        writer.join(timeout=10)
    assert inserted.is_set()


@pytest.mark.postgres
def test_postgres_insert_of_more_events_than_a_statement_takes_is_one_write_in_order(
    postgres_service: OutdialService,
) -> None:
    """A write past ``INSERT_MAX`` events goes out as several statements of one
    transaction: every event numbered in the order given, a duplicate in the last
    statement refusing the whole write."""
    recorder: Any = postgres_service.recorder
    many = [StoredEvent(uuid4(), 1, TOPIC, b"x") for _ in range(library.INSERT_MAX * 2 + 7)]
    ids = recorder.insert_events(many)
    assert len(ids) == len(many)
    assert ids == sorted(ids)
    found = recorder.select_notifications(start=ids[0], limit=len(many))
    assert [n.originator_id for n in found] == [e.originator_id for e in many]
    refused = [StoredEvent(uuid4(), 1, TOPIC, b"y") for _ in range(library.INSERT_MAX)]
    with pytest.raises(IntegrityError):
        recorder.insert_events([*refused, many[-1]])
    assert recorder.select_notifications(start=ids[-1] + 1, limit=10) == []


@pytest.mark.postgres
def test_postgres_events_table_holds_uuid_ids_and_a_notification_id_column(
    postgres_storage: Storage, postgres_service: OutdialService
) -> None:
    """Guards the PostgreSQL events table's layout the service's SQL assumes: the table
    ``events_table_name`` in ``datastore.schema``, its columns and their types, and its
    ``notification_id`` column as the library's notification id."""
    recorder: Any = postgres_service.recorder
    _interleaved(recorder)
    notifications = recorder.select_notifications(start=1, limit=100)
    schema, table = recorder.datastore.schema, recorder.events_table_name
    with _own_connection(postgres_storage, "") as connection:
        columns = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                (schema, table),
            ).fetchall()
        )
        rows = connection.execute(
            SQL(
                "SELECT notification_id, originator_id, originator_version FROM {0}.{1} "
                "ORDER BY notification_id"
            ).format(Identifier(schema), Identifier(table))
        ).fetchall()
    assert columns == {
        "originator_id": "uuid",
        "originator_version": "bigint",
        "topic": "text",
        "state": "bytea",
        "notification_id": "bigint",
    }
    assert rows == [(n.id, n.originator_id, n.originator_version) for n in notifications]


def test_sqlite_file_is_the_file_the_events_are_in(
    sqlite_storage: Storage, sqlite_service: OutdialService
) -> None:
    """Guards ``sqlite_file`` (``pool.db_name``, ``pool.is_sqlite_memory_mode``): the
    file whose changes the append signal watches holds the events; none in memory."""
    recorder: Any = sqlite_service.recorder
    sqlite_service.create_outdial(uuid4())
    path = library.sqlite_file(recorder)
    assert path == sqlite_storage.event_store_env()["SQLITE_DBNAME"]
    assert Path(path).is_file()
    with closing(sqlite3.connect(path)) as connection:
        statement = f"SELECT count(*) FROM {recorder.events_table_name}"
        count = connection.execute(statement).fetchone()[0]
    assert count == recorder.max_notification_id()
    assert library.notify_channel(recorder) is None
    in_memory = OutdialService(
        {**sqlite_storage.event_store_env(), "SQLITE_DBNAME": ":memory:"}, clock=FakeClock()
    )
    try:
        assert isinstance(in_memory.recorder, WakingSQLiteApplicationRecorder)
        assert library.sqlite_file(in_memory.recorder) is None
    finally:
        in_memory.close()


@pytest.mark.postgres
def test_notify_channel_is_the_channel_the_library_notifies_on_insert(
    postgres_storage: Storage, postgres_service: OutdialService
) -> None:
    """Guards ``notify_channel`` (``channel_name``): a connection LISTENing on it hears a
    save of another connection, as the append signal of another process does."""
    channel = library.notify_channel(postgres_service.recorder)
    assert channel is not None
    assert library.sqlite_file(postgres_service.recorder) is None
    with _own_connection(postgres_storage, "") as connection:
        connection.execute(SQL("LISTEN {0}").format(Identifier(channel)))
        postgres_service.create_outdial(uuid4())
        heard = list(connection.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in heard] == [channel]


# -- the read model's transactions and tracking ----------------------------------------------


def _position(view: TrackingRecorder) -> int | None:
    return view.max_tracking_id(APP)


def _record_then_fail(view: ReadModelView, tracking: Tracking) -> None:
    with library.transaction(view, commit=True) as cursor:
        library.insert_tracking(view, cursor, tracking)
        raise RuntimeError


def test_a_view_transaction_commits_only_when_asked(view: ReadModelView) -> None:
    """Guards ``transaction(view, commit=...)`` (``datastore.transaction``): what a
    transaction records is kept with commit=True, rolled back with commit=False (the
    read model's reads), and rolled back when its block raises."""
    with library.transaction(view, commit=False) as cursor:
        library.insert_tracking(view, cursor, Tracking(APP, 3))
    assert _position(view) is None
    with pytest.raises(RuntimeError):
        _record_then_fail(view, Tracking(APP, 3))
    assert _position(view) is None
    with library.transaction(view, commit=True) as cursor:
        library.insert_tracking(view, cursor, Tracking(APP, 3))
    assert _position(view) == 3


def test_insert_tracking_records_a_position_only_past_the_recorded_one(
    view: ReadModelView,
) -> None:
    """Guards ``insert_tracking`` (``_insert_tracking`` in the caller's transaction) and
    the library's single-row tracking: the position recorded is what the library's
    ``max_tracking_id`` reads, and one not past it raises the library's IntegrityError
    (an event applied twice rolls its whole transaction back)."""
    for position in (5, 6):
        with library.transaction(view, commit=True) as cursor:
            library.insert_tracking(view, cursor, Tracking(APP, position))
        assert _position(view) == position
    for stale in (6, 5, 1):
        with pytest.raises(IntegrityError), library.transaction(view, commit=True) as cursor:
            library.insert_tracking(view, cursor, Tracking(APP, stale))
    assert _position(view) == 6
    with library.transaction(view, commit=True) as cursor:
        library.insert_tracking(view, cursor, Tracking("other", 2))
    assert (_position(view), view.max_tracking_id("other")) == (6, 2)


def test_tracking_table_names_the_table_holding_the_position(
    storage: Storage, view: ReadModelView
) -> None:
    """Guards ``tracking_table`` (``tracking_table_name`` on PostgreSQL, ``tracking`` on
    SQLite): the table the read model's own SQL reads and empties holds, one row an
    application, the position the library's public ``insert_tracking`` recorded, and is
    found unqualified by its name."""
    view.insert_tracking(Tracking(APP, 7))
    view.insert_tracking(Tracking(APP, 9))
    table = library.tracking_table(view)
    if storage.kind == "postgres":
        assert table == f"{VIEW_NAME}_tracking"
    statement = f"SELECT notification_id FROM {table} WHERE application_name = '{APP}'"
    with closing(_own_connection(storage, READ_MODEL_DBNAME)) as connection:
        rows = connection.execute(statement).fetchall()
    assert [tuple(r) for r in rows] == [(9,)]


def test_a_view_transaction_cursor_gives_rows_by_name_and_its_connection(
    storage: Storage, view: ReadModelView
) -> None:
    """Guards the cursor ``transaction(view)`` yields, as projections/rows.py reads
    through it: rows by column name (``dict(row)``), and its connection, for streams in
    the same snapshot: ``sqlite_cursor.connection`` on SQLite, a psycopg connection
    (``pgconn``) taking a named cursor on PostgreSQL."""
    view.insert_tracking(Tracking(APP, 4))
    table = library.tracking_table(view)
    statement = f"SELECT * FROM {table} WHERE application_name = '{APP}'"
    with library.transaction(view, commit=False) as cursor:
        cursor.execute(statement)
        assert [dict(r) for r in cursor.fetchall()] == [
            {"application_name": APP, "notification_id": 4}
        ]
        library.insert_tracking(view, cursor, Tracking(APP, 5))
        if storage.kind == "sqlite":
            raw = cursor.sqlite_cursor
            assert isinstance(raw, sqlite3.Cursor)
            seen = raw.connection.cursor().execute(statement).fetchall()
        else:
            assert hasattr(cursor.connection, "pgconn")
            with cursor.connection.cursor(name="contract") as named:
                named.execute(statement)
                seen = named.fetchall()
    assert [dict(r)["notification_id"] for r in seen] == [5]  # this transaction's snapshot


@pytest.mark.postgres
def test_a_postgres_view_transaction_begins_fresh_for_reading_to_set_its_isolation(
    postgres_storage: Storage,
) -> None:
    """Guards ``transaction(view, commit=False)`` as the PostgreSQL read model's
    ``reading`` uses it: the cursor is in a transaction begun and nothing run in it yet,
    so SET TRANSACTION, the first statement, takes effect."""
    view = open_store(postgres_storage)
    try:
        with library.transaction(view, commit=False) as cursor:
            assert cursor.connection.info.transaction_status == TransactionStatus.INTRANS
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SHOW transaction_isolation")
            assert cursor.fetchone()["transaction_isolation"] == "repeatable read"
    finally:
        view.close()


def test_sqlite_write_connection_takes_the_callers_begin_immediate(
    sqlite_storage: Storage,
) -> None:
    """Guards ``sqlite_write_connection`` (``datastore.get_connection(commit=True)``) as
    the SQLite read model writes: the connection is in autocommit, not in a transaction,
    so the caller's BEGIN IMMEDIATE begins one that its ``commit`` keeps, its
    ``rollback`` drops, and other connections do not see until committed."""
    view = open_store(sqlite_storage)
    assert isinstance(view, SQLiteReadModelView)
    path = library.sqlite_path(view)
    try:
        for keep, expected in ((False, None), (True, 8)):
            with library.sqlite_write_connection(view) as connection:
                cursor = connection.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                library.insert_tracking(view, cursor, Tracking(APP, 8))
                assert _position_in(path) is None
                if keep:
                    connection.commit()
                else:
                    connection.rollback()
            assert _position_in(path) == expected
    finally:
        view.close()


def _position_in(path: str) -> int | None:
    with closing(sqlite3.connect(path)) as connection:
        row = connection.execute(
            "SELECT notification_id FROM tracking WHERE application_name = ?", (APP,)
        ).fetchone()
    return None if row is None else int(row[0])


def test_sqlite_path_is_the_view_file(sqlite_storage: Storage) -> None:
    """Guards ``sqlite_path`` (``pool.db_name`` of the view): the file the read model's
    readers open themselves, beside the events, holding what the view records."""
    view = open_store(sqlite_storage)
    assert isinstance(view, SQLiteReadModelView)
    try:
        path = library.sqlite_path(view)
        assert sqlite_storage.data_dir is not None
        assert path == str(sqlite_storage.data_dir / READ_MODEL_DBNAME)
        view.insert_tracking(Tracking(APP, 2))
        assert _position_in(path) == 2
    finally:
        view.close()


@pytest.mark.postgres
def test_postgres_connection_is_autocommit_with_rows_by_name(postgres_storage: Storage) -> None:
    """Guards ``postgres_connection`` (``datastore.get_connection()``) as the PostgreSQL
    read model's ``query`` uses it: autocommit (one statement, no transaction left
    open), named parameters, rows by column name."""
    view = open_store(postgres_storage)
    assert isinstance(view, PostgresReadModelView)
    try:
        view.insert_tracking(Tracking(APP, 6))
        table = library.tracking_table(view)
        with library.postgres_connection(view) as connection, connection.cursor() as cursor:
            assert connection.autocommit
            cursor.execute(
                f"SELECT * FROM {table} WHERE application_name = %(name)s",
                {"name": APP},
            )
            rows = [dict(r) for r in cursor.fetchall()]
            assert connection.info.transaction_status == TransactionStatus.IDLE
        assert rows == [{"application_name": APP, "notification_id": 6}]
    finally:
        view.close()


def test_close_closes_the_views_pool(storage: Storage) -> None:
    """Guards ``close`` (``datastore.close``): the view's pool is closed."""
    view = open_store(storage)
    library.close(view)
    assert view.datastore.pool.closed  # type: ignore[attr-defined]


def test_sqlite_snapshots_table_is_named_and_holds_ids_as_the_key_store_deletes_them(
    sqlite_storage: Storage, sqlite_service: OutdialService
) -> None:
    """Guards what an erasure's deletion of a target's snapshots assumes on SQLite
    (adapters/target_keys.py): the table's name, in the events' file, ids as text hex."""
    snapshots: Any = sqlite_service.snapshots
    assert snapshots.recorder.events_table_name == library.SQLITE_SNAPSHOTS_TABLE
    target_id = _snapshotted_target(sqlite_service)
    with closing(_own_connection(sqlite_storage, EVENTS_DBNAME)) as connection:
        ids = connection.execute(
            f"SELECT originator_id FROM {library.SQLITE_SNAPSHOTS_TABLE}"
        ).fetchall()
    assert ids == [(target_id.hex,)]


@pytest.mark.postgres
def test_postgres_snapshots_table_is_named_and_holds_ids_as_the_key_store_deletes_them(
    postgres_storage: Storage, postgres_service: OutdialService
) -> None:
    snapshots: Any = postgres_service.snapshots
    assert snapshots.recorder.events_table_name == library.POSTGRES_SNAPSHOTS_TABLE
    target_id = _snapshotted_target(postgres_service)
    assert postgres_storage.database_url
    with psycopg.connect(postgres_storage.database_url) as connection:
        ids = connection.execute(
            f"SELECT originator_id FROM {library.POSTGRES_SNAPSHOTS_TABLE}"
        ).fetchall()
    assert ids == [(target_id,)]


def _snapshotted_target(service: OutdialService) -> UUID:
    customer = uuid4()
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value
    service.take_snapshot(target.id)
    return target.id
