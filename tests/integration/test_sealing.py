"""A target's personal data sealed in the event store, on both stores: the raw tables and
files hold neither its number nor its name, every reader gets them back, events stored
before sealing read as before, and an event whose key is gone reads blank."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from adapters.event_log import StoredEventLog
from adapters.migrations import migrate_store
from adapters.stores import Storage
from adapters.target_keys import KEYS_AHEAD, TargetKeys, _KeyTable, open_target_keys
from application.history import target_events
from application.sealing import ERASED, KeyedStoredEvent
from application.service import NewTarget, OutdialService
from domain.address import Address
from domain.plan import MAX_TRY_COUNT_LIMIT
from domain.target import Target
from tests.conftest import FakeClock

NUMBER = "+821099887766"
NAME = "Zelda Quux"
PLACE = "Zelda's summer house"


@pytest.fixture
def keys(storage: Storage) -> Iterator[TargetKeys]:
    migrate_store(storage)
    opened = open_target_keys(storage)
    yield opened
    opened.close()


def _service(storage: Storage, keys: TargetKeys | None) -> OutdialService:
    return OutdialService(storage.event_store_env(), clock=FakeClock(), keys=keys)


def _target(service: OutdialService, customer: UUID, dials: int = 0) -> tuple[UUID, UUID]:
    outdial = service.create_outdial(customer).value
    service.change_outdial_plan(
        customer, outdial.id, {"max_try_count_0": MAX_TRY_COUNT_LIMIT, "try_interval": 0}
    )
    destination = Address("tel", NUMBER, target_name=PLACE, name="home")
    target = service.create_targets(
        customer, outdial.id, [NewTarget([destination, None, None, None, None], name=NAME)]
    ).value[0]
    for _ in range(dials):
        dial = service.start_dial(customer, outdial.id, target.id).value
        service.finish_dial(customer, outdial.id, target.id, dial.id, result="fail", reason="busy")
    return outdial.id, target.id


def raw_event_store(storage: Storage) -> bytes:
    """Everything the event store holds, as bytes: every file of SQLite's, or every row
    of PostgreSQL's events and snapshots."""
    if storage.data_dir is not None:
        return b"".join(p.read_bytes() for p in Path(storage.data_dir).glob("events.sqlite3*"))
    assert storage.database_url
    with psycopg.connect(storage.database_url) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE 'outdial_%%events' "
                "OR tablename LIKE 'outdial_%%snapshots'"
            )
        ]
        assert len(tables) == 2, tables
        return b"".join(
            bytes(row[0])
            for table in tables
            for row in connection.execute(f"SELECT state FROM {table}")
        )


def test_the_event_store_holds_neither_the_number_nor_the_name(
    storage: Storage, keys: TargetKeys
) -> None:
    service = _service(storage, keys)
    customer = uuid4()
    outdial_id, target_id = _target(service, customer, dials=30)  # past a snapshot (50 events)
    service.close()
    raw = raw_event_store(storage)
    assert len(raw) > 10_000
    for personal in (NUMBER, NUMBER[1:], NAME, PLACE):
        assert personal.encode() not in raw, personal
    # Every reader gets them back: the events, and the target from its snapshot.
    again = _service(storage, open_target_keys(storage))
    events = target_events(again, customer, outdial_id, target_id)
    assert events[0].name == NAME  # type: ignore[attr-defined]
    assert events[1].destination.target == NUMBER  # type: ignore[attr-defined]
    assert all(not getattr(e, ERASED, False) for e in events)
    target = again.get_target(customer, outdial_id, target_id)
    assert (target.name, target.destinations[0]) == (NAME, events[0].destinations[0])  # type: ignore[attr-defined]
    assert target.version == 61
    assert again.snapshots is not None
    assert list(again.snapshots.get(target_id))
    again.close()


def test_a_target_stored_before_sealing_reads_and_dials_as_before(
    storage: Storage, keys: TargetKeys
) -> None:
    plain = _service(storage, None)
    customer = uuid4()
    outdial_id, target_id = _target(plain, customer, dials=1)
    plain.close()
    assert NUMBER.encode() in raw_event_store(storage)
    sealed = _service(storage, keys)
    events = target_events(sealed, customer, outdial_id, target_id)
    assert events[0].name == NAME  # type: ignore[attr-defined]
    assert not getattr(events[0], ERASED, False)
    # It has no key: dialed on, past a snapshot, its events and snapshot stay plain.
    for _ in range(25):
        dial = sealed.start_dial(customer, outdial_id, target_id).value
        sealed.finish_dial(customer, outdial_id, target_id, dial.id, result="fail", reason="busy")
    assert _key_count(storage, target_id) == 0
    sealed.close()
    again = _service(storage, open_target_keys(storage))
    target = again.get_target(customer, outdial_id, target_id)
    assert (target.name, target.version) == (NAME, 53)
    assert again.snapshots is not None
    assert list(again.snapshots.get(target_id))
    again.close()


def test_without_its_key_a_targets_events_read_blank_and_erased(
    storage: Storage, keys: TargetKeys
) -> None:
    service = _service(storage, keys)
    customer = uuid4()
    outdial_id, target_id = _target(service, customer, dials=1)
    service.close()
    _destroy_key(storage, target_id)
    reader = _service(storage, open_target_keys(storage))
    created, started, finished = target_events(reader, customer, outdial_id, target_id)
    assert (created.name, created.detail, created.data) == ("", "", "")  # type: ignore[attr-defined]
    assert created.destinations[0] == Address("tel", "")  # type: ignore[attr-defined]
    assert created.destinations[1] is None  # type: ignore[attr-defined]
    assert started.destination == Address("tel", "")  # type: ignore[attr-defined]
    assert getattr(created, ERASED)
    assert getattr(started, ERASED)
    assert not getattr(finished, ERASED, False)  # nothing personal in it
    reader.close()


def test_a_key_is_stored_with_its_targets_created_event_and_only_then(
    storage: Storage, keys: TargetKeys
) -> None:
    """A target whose id the caller gives (an import's) has its key written by the
    recorder, in the transaction of its Created event."""
    service = _service(storage, keys)
    customer = uuid4()
    outdial = service.create_outdial(customer).value
    given = [NewTarget([Address("tel", NUMBER), None, None, None, None], id=uuid4()) for _ in "abc"]
    made = service.create_missing_targets(customer, outdial.id, given).value
    assert {_key_count(storage, t.id) for t in made} == {1}
    assert _key_count(storage, outdial.id) == 0  # an outdial holds nothing personal
    service.close()


def test_a_target_the_service_names_has_its_key_stored_before_it(
    storage: Storage, keys: TargetKeys
) -> None:
    """Ids and keys stored ahead, in one transaction: durable before any event is sealed
    with them; those no target took are deleted when the keys close."""
    (target_id,) = keys.new_target_ids(1)
    assert _key_count(storage, target_id) == 1
    other = open_target_keys(storage)
    assert other.key_of(target_id) == keys.known_key(target_id)
    other.close()
    service = _service(storage, keys)
    customer = uuid4()
    outdial = service.create_outdial(customer).value
    new = NewTarget([Address("tel", NUMBER), None, None, None, None], name=NAME)
    made = service.create_targets(customer, outdial.id, [new] * 2).value
    assert [_key_count(storage, t.id) for t in made] == [1, 1]
    assert _all_keys(storage) == KEYS_AHEAD
    service.close()
    keys.close()
    # The two targets' and the first id's: handed out, it may yet have been used.
    assert _all_keys(storage) == 3
    reader = _service(storage, open_target_keys(storage))
    assert reader.get_target(customer, outdial.id, made[0].id).name == NAME
    reader.close()


def _run(storage: Storage, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """One statement on the event store's database, outside the service."""
    if storage.database_url:
        with psycopg.connect(storage.database_url) as on_postgres:
            cursor = on_postgres.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []
    on_sqlite = sqlite3.connect(str(Path(storage.data_dir or "") / "events.sqlite3"))
    try:
        with on_sqlite:
            return on_sqlite.execute(sql, params).fetchall()
    finally:
        on_sqlite.close()


def _key_id(storage: Storage, target_id: UUID) -> Any:
    return target_id if storage.database_url else str(target_id)


def _destroy_key(storage: Storage, target_id: UUID) -> None:
    _run(
        storage,
        "DELETE FROM outdial_target_keys WHERE target_id = ?",
        (_key_id(storage, target_id),),
    )


def _key_count(storage: Storage, target_id: UUID) -> int:
    rows = _run(
        storage,
        "SELECT COUNT(*) FROM outdial_target_keys WHERE target_id = ?",
        (_key_id(storage, target_id),),
    )
    return int(rows[0][0])


def _all_keys(storage: Storage) -> int:
    return int(_run(storage, "SELECT COUNT(*) FROM outdial_target_keys", ())[0][0])


def test_a_key_whose_event_is_refused_is_not_stored(storage: Storage, keys: TargetKeys) -> None:
    """The recorder's hook (adapters/library.py) writes keys in the events' transaction:
    when the library's insert refuses the event, the key goes with it."""
    service = _service(storage, keys)
    customer = uuid4()
    _, target_id = _target(service, customer)
    (created,) = service.recorder.select_events(target_id, limit=1)
    taken = KeyedStoredEvent(created.originator_id, 1, created.topic, created.state, b"k" * 32)
    other = uuid4()
    fresh = KeyedStoredEvent(other, 1, created.topic, created.state, b"x" * 32)
    with pytest.raises(IntegrityError):
        service.recorder.insert_events([fresh, taken])
    assert _key_count(storage, other) == 0
    assert _key_count(storage, target_id) == 1
    service.close()


def test_reading_many_targets_events_fetches_their_keys_at_once(
    storage: Storage, keys: TargetKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _service(storage, keys)
    customer = uuid4()
    outdial = service.create_outdial(customer).value
    new = NewTarget([Address("tel", NUMBER), None, None, None, None], name=NAME)
    service.create_targets(customer, outdial.id, [new] * 40)
    service.close()
    fetched: list[int] = []
    one_by_one, at_once = _KeyTable.key_of, _KeyTable.keys_of

    def key_of(table: _KeyTable, target_id: UUID) -> bytes | None:
        fetched.append(1)
        return one_by_one(table, target_id)

    def keys_of(table: _KeyTable, target_ids: list[UUID]) -> list[tuple[UUID, bytes]]:
        fetched.append(len(target_ids))
        return at_once(table, target_ids)

    monkeypatch.setattr(_KeyTable, "key_of", key_of)
    monkeypatch.setattr(_KeyTable, "keys_of", keys_of)
    reader = _service(storage, open_target_keys(storage))
    log = StoredEventLog(reader, storage)
    read = log.read(0, limit=100)
    assert sum(event.name == NAME for _, event in read if isinstance(event, Target.Created)) == 40
    assert fetched == [40]  # one query for the page, none one by one
    log.close()
    reader.close()
