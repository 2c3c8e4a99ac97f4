"""The read model: exactly-once projection, read-your-writes, paging, rebuild and verify."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from adapters import library as library_module
from adapters.event_log import StoredEventLog
from adapters.read_model_store import open_read_model, open_store
from adapters.stores import Storage
from application.service import OutdialService
from domain.plan import DEFAULT_PLAN
from projections import projection as projection_module
from projections import targets as targets_module
from projections.paging import InvalidPageToken
from projections.projection import ReadModelProjection
from projections.queries import ReadModelQueries
from projections.rebuild import rebuild
from projections.runner import LiveProjection, ReadModel
from projections.schema import COLUMNS
from projections.verify import verify
from tests import previous_release
from tests.conftest import FakeClock, eventually, new_target
from tests.integration.conftest import WAIT, all_rows, campaign_day, caught_up, projected


def rebuilt(
    storage: Storage, events: StoredEventLog, *, into: str | None = None, until: int | None = None
) -> int:
    """What `outdial rebuild` does: the store's read model (or another) projected anew."""
    read_model = open_read_model(storage, events, into=into)
    try:
        return rebuild(events, read_model.view, until=until)
    finally:
        read_model.close()


def test_read_model_equals_the_replay_after_every_kind_of_command(
    stored_service: OutdialService,
    events: StoredEventLog,
    read_model: ReadModel,
    clock: FakeClock,
    customer: UUID,
) -> None:
    ids = campaign_day(stored_service, clock, customer)
    assert caught_up(read_model)
    position, differences = verify(events, read_model.view)
    assert position == events.head()
    assert differences == []
    first = read_model.queries.get_target(customer, ids["outdial"], ids["first"])
    assert first is not None
    assert (first["status"], first["try_count_0"], first["try_count_1"]) == ("done", 1, 1)
    late = read_model.queries.search_dials(customer, target_id=ids["second"]).rows[0]
    assert (late["result"], late["reason"]) == ("success", "late answer")


def test_a_write_is_visible_to_the_next_read(
    stored_service: OutdialService, read_model: ReadModel, customer: UUID
) -> None:
    outdial = stored_service.create_outdial(customer).value
    for n in range(20):
        written = stored_service.create_target(customer, outdial.id, new_target("+821100000001"))
        assert written.position is not None
        assert read_model.wait_until_applied(written.position, WAIT)
        found = read_model.queries.get_target(customer, outdial.id, written.value.id)
        assert found is not None, n


def test_waiting_past_the_head_times_out_instead_of_hanging(read_model: ReadModel) -> None:
    assert not read_model.wait_until_applied(10_000_000, timeout=0.2)
    assert read_model.wait_until_applied(None)


def test_an_event_is_never_applied_twice(
    stored_service: OutdialService, storage: Storage, customer: UUID
) -> None:
    stored_service.create_outdial(customer)
    view = open_store(storage)
    projection = ReadModelProjection(view)
    notification = stored_service.recorder.select_notifications(start=1, limit=1)[0]
    event = stored_service.mapper.to_domain_event(notification)
    projection.process_event(event, Tracking(stored_service.name, notification.id))
    before = all_rows(view)
    with pytest.raises(IntegrityError):
        projection.process_event(event, Tracking(stored_service.name, notification.id))
    assert all_rows(view) == before


def test_a_batch_is_refused_whole_unless_the_read_model_is_where_it_follows(
    stored_service: OutdialService, storage: Storage, customer: UUID
) -> None:
    outdial = stored_service.create_outdial(customer).value
    stored_service.create_targets(customer, outdial.id, [new_target("+821100000001")] * 2)
    view = open_store(storage)
    projection = ReadModelProjection(view)
    notifications = stored_service.recorder.select_notifications(start=1, limit=10)
    first, *rest = [(n.id, stored_service.mapper.to_domain_event(n)) for n in notifications]
    projection.process_events([first[1]], Tracking(stored_service.name, first[0]), after=0)
    before = all_rows(view)
    # A batch that claims to follow position 0 when the read model is at 1 (a rebuild
    # moved it, say) would apply event 1 again: refused, nothing written.
    with pytest.raises(IntegrityError):
        projection.process_events(
            [first[1], *(e for _, e in rest)], Tracking(stored_service.name, rest[-1][0]), after=0
        )
    assert all_rows(view) == before
    projection.process_events(
        [e for _, e in rest], Tracking(stored_service.name, rest[-1][0]), after=first[0]
    )
    assert len(all_rows(view)["targets"]) == 2


def test_a_crash_inside_the_transaction_applies_nothing_and_the_runner_recovers(
    stored_service: OutdialService,
    storage: Storage,
    events: StoredEventLog,
    clock: FakeClock,
    customer: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crashes: list[str] = []
    real = targets_module.dial_finished

    def crash_once_after_writing(rows: Any, event: Any) -> None:
        real(rows, event)  # the view rows are written...
        if not crashes:
            crashes.append(str(event.dial_id))
            msg = "process died before the tracking commit"
            raise RuntimeError(msg)  # ...and the transaction dies before it commits

    monkeypatch.setattr(projection_module, "dial_finished", crash_once_after_writing)
    with projected(storage, events) as projection:
        model = projection.read_model
        ids = campaign_day(stored_service, clock, customer)
        assert caught_up(model)
        assert crashes
        assert projection.last_error is not None
        assert "RuntimeError" in projection.last_error
        assert model.lag() == 0
        assert not projection.stuck  # it moved past the failure
        assert verify(events, model.view)[1] == []
        dials = model.queries.search_dials(customer, target_id=ids["first"]).rows
        assert [d["try_count"] for d in dials] == [1, 1]  # one row per attempt, no duplicates


def test_a_failing_projection_is_visible_as_growing_lag(
    stored_service: OutdialService,
    storage: Storage,
    events: StoredEventLog,
    customer: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def always_fail(rows: Any, event: Any) -> None:
        msg = "bad row"
        raise RuntimeError(msg)

    monkeypatch.setattr(projection_module, "outdial_created", always_fail)
    with projected(storage, events) as projection:
        stored_service.create_outdial(customer)
        stored_service.create_outdial(customer)
        eventually(lambda: projection.stuck, what="stuck")
        assert not caught_up(projection.read_model, timeout=0.1)
        assert projection.read_model.lag() == 2
        assert projection.last_error is not None
        assert projection.last_error.startswith("event ")  # named: the first outdial
        assert projection.last_error.endswith("cannot be applied: RuntimeError: bad row")
        assert projection.stuck


def test_rebuild_gives_exactly_the_rows_of_incremental_projection(
    stored_service: OutdialService,
    events: StoredEventLog,
    read_model: ReadModel,
    storage: Storage,
    clock: FakeClock,
    customer: UUID,
    tmp_path: Path,
) -> None:
    campaign_day(stored_service, clock, customer)
    assert caught_up(read_model)
    incremental = all_rows(read_model.view)
    copy = str(tmp_path / "copy.sqlite3")
    assert rebuilt(storage, events, into=copy) == events.head()
    assert all_rows(open_store(storage, copy)) == incremental
    rebuilt(storage, events)  # in place, while the runner keeps projecting
    assert all_rows(read_model.view) == incremental
    outdial = stored_service.create_outdial(customer, name="after the rebuild").value
    assert caught_up(read_model)
    assert read_model.queries.get_outdial(customer, outdial.id) is not None
    assert verify(events, read_model.view)[1] == []


def test_an_interrupted_rebuild_leaves_the_old_read_model_intact(
    stored_service: OutdialService,
    events: StoredEventLog,
    read_model: ReadModel,
    storage: Storage,
    clock: FakeClock,
    customer: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign_day(stored_service, clock, customer)
    assert caught_up(read_model)
    before = all_rows(read_model.view)

    def interrupted(rows: Any, event: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(projection_module, "dial_finished", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rebuilt(storage, events)
    assert all_rows(read_model.view) == before


def test_rebuild_until_shows_the_read_model_as_it_was(
    stored_service: OutdialService,
    events: StoredEventLog,
    storage: Storage,
    customer: UUID,
    tmp_path: Path,
) -> None:
    outdial = stored_service.create_outdial(customer).value
    created = stored_service.create_target(customer, outdial.id, new_target("+821100000001"))
    assert created.position is not None
    stored_service.start_dial(customer, outdial.id, created.value.id)
    earlier = str(tmp_path / "earlier.sqlite3")
    rebuilt(storage, events, until=created.position, into=earlier)
    view = open_store(storage, earlier)
    row_then = ReadModelQueries(view).get_target(customer, outdial.id, created.value.id)
    assert row_then is not None
    assert (row_then["status"], row_then["try_count_0"]) == ("idle", 0)
    assert view.max_tracking_id(stored_service.name) == created.position


def test_verify_names_the_field_of_a_tampered_row(
    stored_service: OutdialService, events: StoredEventLog, read_model: ReadModel, customer: UUID
) -> None:
    outdial = stored_service.create_outdial(customer).value
    target = stored_service.create_target(customer, outdial.id, new_target("+821100000001")).value
    assert caught_up(read_model)
    with read_model.view.tracked(Tracking("tamper", 1)) as rows:
        rows.execute("UPDATE targets SET status = 'done' WHERE id = :id", {"id": str(target.id)})
    differences = verify(events, read_model.view)[1]
    assert [(d.table, d.row_id, d.field) for d in differences] == [
        ("targets", str(target.id), "status")
    ]
    assert "expected 'idle'" in str(differences[0])


def test_paging_a_batch_of_1000_sharing_one_tm_create_returns_each_once(
    stored_service: OutdialService, read_model: ReadModel, customer: UUID
) -> None:
    outdial = stored_service.create_outdial(customer).value
    batch = [new_target("+821100000001")] * 1000
    created = stored_service.create_targets(customer, outdial.id, batch).value
    assert caught_up(read_model, 60)
    seen: list[str] = []
    token = ""
    while True:
        page = read_model.queries.page_targets(customer, outdial.id, page_size=37, page_token=token)
        seen += [row["id"] for row in page.rows]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 1000
    assert set(seen) == {str(t.id) for t in created}


def test_available_follows_the_rules_of_the_domain(
    stored_service: OutdialService, read_model: ReadModel, clock: FakeClock, customer: UUID
) -> None:
    outdial = stored_service.create_outdial(customer).value
    plan = DEFAULT_PLAN.with_changes({"max_try_count_0": 2, "try_interval": 60_000})
    stored_service.change_outdial_plan(customer, outdial.id, plan.as_dict())
    fresh, dialed, deleted = (
        stored_service.create_target(customer, outdial.id, new_target("+821100000001")).value.id
        for _ in range(3)
    )
    dial = stored_service.start_dial(customer, outdial.id, dialed).value
    stored_service.finish_dial(customer, outdial.id, dialed, dial.id, result="fail", reason="busy")
    stored_service.delete_target(customer, outdial.id, deleted)
    assert caught_up(read_model)

    def available() -> list[str]:
        rows = read_model.queries.available_targets(
            customer, outdial.id, plan=plan, now=clock.now, limit=100
        )
        return [r["id"] for r in rows]

    assert available() == [str(fresh)]
    clock.advance(seconds=59, milliseconds=999)
    assert available() == [str(fresh)]
    clock.advance(seconds=1)  # try_interval has passed since the dial ended (+ a few µs)
    assert available() == [str(fresh), str(dialed)]  # oldest tm_update first
    for target_id in (fresh, dialed, deleted):  # the same answer as the domain's own rule
        target = stored_service.get_target(customer, outdial.id, target_id)
        assert target.availability(plan, clock.now).available == (str(target_id) in available())
    assert (
        read_model.queries.available_targets(
            uuid4(), outdial.id, plan=plan, now=clock.now, limit=100
        )
        == []
    )
    stored_service.delete_outdial(customer, outdial.id)
    assert caught_up(read_model)
    assert available() == []


def test_a_page_token_from_another_list_is_refused(
    stored_service: OutdialService, read_model: ReadModel, customer: UUID
) -> None:
    outdial = stored_service.create_outdial(customer).value
    stored_service.create_targets(customer, outdial.id, [new_target("+821100000001")] * 3)
    assert caught_up(read_model)
    token = read_model.queries.page_targets(customer, outdial.id, page_size=1).next_page_token
    assert token
    with pytest.raises(InvalidPageToken):
        read_model.queries.page_targets(
            customer, outdial.id, page_size=1, page_token=token, status="idle"
        )
    with pytest.raises(InvalidPageToken):
        read_model.queries.page_targets(customer, outdial.id, page_size=1, page_token="garbage!")
    with pytest.raises(InvalidPageToken):
        read_model.queries.page_outdials(customer, page_size=1, page_token=token)


@pytest.mark.postgres
def test_rebuild_into_postgresql_gives_the_same_rows(
    sqlite_storage: Storage, postgres_storage: Storage, clock: FakeClock, customer: UUID
) -> None:
    service = OutdialService(sqlite_storage.event_store_env(), clock=clock)
    events = StoredEventLog(service, sqlite_storage)
    try:
        campaign_day(service, clock, customer)
        rebuilt(sqlite_storage, events)
        assert postgres_storage.database_url
        rebuilt(sqlite_storage, events, into=postgres_storage.database_url)
        local = open_read_model(sqlite_storage, events)
        remote = open_read_model(sqlite_storage, events, into=postgres_storage.database_url)
        assert all_rows(remote.view) == all_rows(local.view)
        remote.close()  # before the database is dropped
        local.close()
    finally:
        events.close()
        service.close()


def test_rebuilding_in_place_while_writes_and_the_runner_go_on_loses_nothing(
    stored_service: OutdialService,
    events: StoredEventLog,
    read_model: ReadModel,
    storage: Storage,
    customer: UUID,
) -> None:
    outdial = stored_service.create_outdial(customer).value
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            stored_service.create_target(customer, outdial.id, new_target("+821100000001"))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        for _ in range(3):
            rebuilt(storage, events)
    finally:
        stop.set()
        writer.join()
    assert caught_up(read_model)
    assert verify(events, read_model.view)[1] == []


def test_verify_finds_missing_and_stray_rows_in_id_order(
    stored_service: OutdialService, events: StoredEventLog, read_model: ReadModel, customer: UUID
) -> None:
    outdial = stored_service.create_outdial(customer).value
    kept, lost = (
        stored_service.create_target(customer, outdial.id, new_target("+821100000001")).value
        for _ in range(2)
    )
    stored_service.start_dial(customer, outdial.id, kept.id)
    assert caught_up(read_model)
    stray = "ffffffff-ffff-ffff-ffff-ffffffffffff"
    with read_model.view.tracked(Tracking("tamper", 1)) as rows:
        rows.execute("DELETE FROM targets WHERE id = :id", {"id": str(lost.id)})
        rows.execute(
            "UPDATE dials SET outdial_target_id = :stray, id = :stray",
            {"stray": stray},
        )
    differences = verify(events, read_model.view)[1]
    found = {(d.table, d.row_id, str(d)) for d in differences}
    assert ("targets", str(lost.id), f"targets {lost.id}: expected a row, found none") in found
    assert ("dials", stray, f"dials {stray}: expected no row, found a row") in found
    assert len([d for d in differences if d.table == "dials"]) == 2  # the stray, the missing


def test_verify_reads_its_streams_side_by_side_a_batch_at_a_time(
    stored_service: OutdialService,
    events: StoredEventLog,
    read_model: ReadModel,
    customer: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(library_module, "STREAM_BATCH", 3)  # many batches of each table
    outdial = stored_service.create_outdial(customer).value
    targets = stored_service.create_targets(
        customer, outdial.id, [new_target("+821100000001")] * 10
    ).value
    for target in targets[:5]:
        stored_service.start_dial(customer, outdial.id, target.id)
    assert caught_up(read_model)
    assert verify(events, read_model.view)[1] == []
    with read_model.view.tracked(Tracking("tamper", 1)) as rows:
        rows.execute("UPDATE targets SET name = 'x' WHERE id = :id", {"id": str(targets[7].id)})
    differences = verify(events, read_model.view)[1]
    assert [(d.table, d.row_id, d.field) for d in differences] == [
        ("targets", str(targets[7].id), "name")
    ]


def test_a_read_model_made_before_dials_had_actors_gains_the_columns(
    storage: Storage, stored_service: OutdialService, events: StoredEventLog
) -> None:
    """An older store's dials table lacks actor and manual: opening it adds them, with the
    values its events replay to, and verify agrees."""
    create = previous_release.DIALS
    if storage.database_url:
        with psycopg.connect(storage.database_url, autocommit=True) as connection:
            # A store made before migrations: no versions recorded, and none of what
            # later migrations made (the test's database is a copy of a current one).
            for table in (*COLUMNS, "outdial_schema_versions"):
                connection.execute(f"DROP TABLE IF EXISTS {table}")
            connection.execute(create)
    else:
        assert storage.data_dir is not None
        storage.data_dir.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(storage.data_dir / "readmodel.sqlite3")) as connection:
            connection.execute(create)
    with projected(storage, events) as projection:
        customer = uuid4()
        outdial = stored_service.create_outdial(customer).value
        target = stored_service.create_target(
            customer, outdial.id, new_target("+821100000001")
        ).value
        stored_service.start_dial(customer, outdial.id, target.id, actor="kid_0123456789ab")
        assert caught_up(projection.read_model)
        [dial] = projection.read_model.queries.search_dials(customer).rows
        assert (dial["actor"], dial["manual"]) == ("kid_0123456789ab", True)
        assert verify(events, projection.read_model.view)[1] == []


def test_a_writers_events_with_another_writers_between_them_skip_none(
    storage: Storage, stored_service: OutdialService, events: StoredEventLog
) -> None:
    """A command of several writes (a dispatch that looked twice) hands over events whose
    ids jump past another writer's: applying them must not pass over that one."""
    customer = uuid4()
    read_model = open_read_model(storage, events)
    try:
        projection = LiveProjection(read_model)
        projection.active = True  # as the lease holder would be; no thread of its own
        another = OutdialService(storage.event_store_env())  # another writer's service
        stored_service.on_recorded(projection.hand_over)
        mine = stored_service.create_outdial(customer, name="mine")
        theirs = another.create_outdial(customer, name="theirs")  # not handed over
        stored_service.update_outdial(customer, mine.value.id, name="mine again")
        projection.apply_until(3)
        assert read_model.position() == 3
        assert read_model.queries.get_outdial(customer, theirs.value.id) is not None
        assert verify(events, read_model.view)[1] == []
        another.close()
    finally:
        read_model.close()


def test_the_projection_applies_a_write_of_many_events_in_one_transaction(
    stored_service: OutdialService,
    projection: LiveProjection,
    customer: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the writer waiting for it would: each of its rows then written once (a deleted
    outdial's erasure), not a batch at a time by the projection's own thread."""
    read_model = projection.read_model
    stored_service.on_recorded(projection.hand_over)
    outdial = stored_service.create_outdial(customer).value
    assert caught_up(read_model)
    sizes: list[int] = []
    process_events = ReadModelProjection.process_events

    def counted(self: ReadModelProjection, domain_events: Any, *args: Any, **kwargs: Any) -> None:
        sizes.append(len(domain_events))
        process_events(self, domain_events, *args, **kwargs)

    monkeypatch.setattr(ReadModelProjection, "process_events", counted)
    half = [new_target(f"+8211{n:08d}") for n in range(projection.batch * 3 // 2)]
    # Held back until both are handed over: a write is applied from the log, a batch at a
    # time, when the projection wakes before its writer has handed it over.
    with projection._applying:
        stored_service.create_targets(customer, outdial.id, half)
        stored_service.create_targets(customer, outdial.id, half)
    assert caught_up(read_model)
    assert sizes == [len(half), len(half)]
