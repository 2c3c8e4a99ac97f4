"""The read model: exactly-once projection, read-your-writes, paging, rebuild and verify."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from application.service import NewTarget, OutdialService
from application.storage import Storage
from domain.plan import DEFAULT_PLAN
from projections import projection as projection_module
from projections import targets as targets_module
from projections.projection import ReadModelProjection
from projections.queries import InvalidPageToken, ReadModelQueries
from projections.readmodel import COLUMNS, ReadModelView
from projections.rebuild import rebuild
from projections.runner import ReadModel, open_view, read_model_env
from projections.verify import verify
from tests.conftest import FakeClock, new_target

WAIT = 10.0


def all_rows(view: ReadModelView) -> dict[str, list[dict[str, Any]]]:
    with view.reading() as rows:
        return {t: rows.select(f"SELECT * FROM {t} ORDER BY id", {}) for t in COLUMNS}


def campaign_day(app: OutdialService, clock: FakeClock, customer: UUID) -> dict[str, UUID]:
    """A representative mix of every command, returning ids worth looking at."""
    outdial = app.create_outdial(customer, name="Q1", detail="spring list")
    app.change_outdial_plan(customer, outdial.id, {"max_try_count_0": 2, "try_interval": 1_000})
    app.change_outdial_data(customer, outdial.id, "vip")
    targets = app.create_targets(
        customer,
        outdial.id,
        [
            new_target("+821100000001", "+821100000002"),
            new_target("+821100000003"),
            new_target("+821100000004"),
        ],
    )
    first, second, third = (t.id for t in targets)
    dial = app.start_dial(customer, outdial.id, first)
    clock.advance(seconds=3)
    app.finish_dial(customer, outdial.id, first, dial.id, result="fail", reason="busy")
    clock.advance(seconds=2)
    dial = app.start_dial(customer, outdial.id, first, destination_index=1, reference_id="call-7")
    app.finish_dial(customer, outdial.id, first, dial.id, result="success", reason="normal")
    timed_out = app.start_dial(customer, outdial.id, second, plan_changes={"dial_timeout": 1_000})
    clock.advance(seconds=2)
    app.time_out_dial(second, timed_out.id)
    app.finish_dial(
        customer, outdial.id, second, timed_out.id, result="success", reason="late answer"
    )
    app.start_dial(customer, outdial.id, third)
    app.delete_target(customer, outdial.id, third)
    other = app.create_outdial(customer, name="gone")
    app.delete_outdial(customer, other.id)
    return {"outdial": outdial.id, "first": first, "second": second, "third": third}


def test_read_model_equals_the_replay_after_every_kind_of_command(
    stored_app: OutdialService, read_model: ReadModel, clock: FakeClock, customer: UUID
) -> None:
    ids = campaign_day(stored_app, clock, customer)
    assert read_model.wait(stored_app.last_position, WAIT)
    position, differences = verify(stored_app, read_model.view)
    assert position == stored_app.recorder.max_notification_id()
    assert differences == []
    first = read_model.queries.get_target(customer, ids["outdial"], ids["first"])
    assert first is not None
    assert (first["status"], first["try_count_0"], first["try_count_1"]) == ("done", 1, 1)
    late = read_model.queries.search_dials(customer, target_id=ids["second"]).result[0]
    assert (late["result"], late["reason"]) == ("success", "late answer")


def test_a_write_is_visible_to_the_next_read(
    stored_app: OutdialService, read_model: ReadModel, customer: UUID
) -> None:
    outdial = stored_app.create_outdial(customer)
    for n in range(20):
        target = stored_app.create_target(customer, outdial.id, new_target("+821100000001"))
        assert read_model.wait(stored_app.last_position, WAIT)
        assert read_model.queries.get_target(customer, outdial.id, target.id) is not None, n


def test_waiting_past_the_head_times_out_instead_of_hanging(read_model: ReadModel) -> None:
    assert not read_model.wait(10_000_000, timeout=0.2)
    assert read_model.wait(None)


def test_an_event_is_never_applied_twice(
    stored_app: OutdialService, storage: Storage, customer: UUID
) -> None:
    stored_app.create_outdial(customer)
    view = open_view(read_model_env(storage))
    projection = ReadModelProjection(view)
    notification = stored_app.recorder.select_notifications(start=1, limit=1)[0]
    event = stored_app.mapper.to_domain_event(notification)
    projection.process_event(event, Tracking(stored_app.name, notification.id))
    before = all_rows(view)
    with pytest.raises(IntegrityError):
        projection.process_event(event, Tracking(stored_app.name, notification.id))
    assert all_rows(view) == before


def test_a_crash_inside_the_transaction_applies_nothing_and_the_runner_recovers(
    stored_app: OutdialService,
    storage: Storage,
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
    model = ReadModel(storage)
    model.start()
    try:
        ids = campaign_day(stored_app, clock, customer)
        assert model.wait(stored_app.last_position, WAIT)
        assert crashes
        assert model.restarts >= 1
        assert model.last_error is not None
        assert "RuntimeError" in model.last_error
        assert model.lag() == 0
        assert not model.failing()  # it moved past the failure
        assert verify(stored_app, model.view)[1] == []
        dials = model.queries.search_dials(customer, target_id=ids["first"]).result
        assert [d["try_count"] for d in dials] == [1, 1]  # one row per attempt, no duplicates
    finally:
        model.close()


def test_a_failing_projection_is_visible_as_growing_lag(
    stored_app: OutdialService, storage: Storage, customer: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_fail(rows: Any, event: Any) -> None:
        msg = "bad row"
        raise RuntimeError(msg)

    monkeypatch.setattr(projection_module, "outdial_created", always_fail)
    model = ReadModel(storage)
    model.start()
    try:
        stored_app.create_outdial(customer)
        stored_app.create_outdial(customer)
        assert not model.wait(stored_app.last_position, timeout=1.0)
        assert model.lag() == 2
        assert model.last_error == "RuntimeError: bad row"
        assert model.failing()
    finally:
        model.close()


def test_rebuild_gives_exactly_the_rows_of_incremental_projection(
    stored_app: OutdialService,
    read_model: ReadModel,
    storage: Storage,
    clock: FakeClock,
    customer: UUID,
    tmp_path: Path,
) -> None:
    campaign_day(stored_app, clock, customer)
    assert read_model.wait(stored_app.last_position, WAIT)
    incremental = all_rows(read_model.view)
    copy = str(tmp_path / "copy.sqlite3")
    projected = rebuild(storage, into=copy)
    assert projected == stored_app.recorder.max_notification_id()
    assert all_rows(open_view(read_model_env(storage, copy))) == incremental
    rebuild(storage)  # in place, while the runner keeps projecting
    assert all_rows(read_model.view) == incremental
    outdial = stored_app.create_outdial(customer, name="after the rebuild")
    assert read_model.wait(stored_app.last_position, WAIT)
    assert read_model.queries.get_outdial(customer, outdial.id) is not None
    assert verify(stored_app, read_model.view)[1] == []


def test_an_interrupted_rebuild_leaves_the_old_read_model_intact(
    stored_app: OutdialService,
    read_model: ReadModel,
    storage: Storage,
    clock: FakeClock,
    customer: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign_day(stored_app, clock, customer)
    assert read_model.wait(stored_app.last_position, WAIT)
    before = all_rows(read_model.view)

    def interrupted(rows: Any, event: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(projection_module, "dial_finished", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rebuild(storage)
    assert all_rows(read_model.view) == before


def test_rebuild_until_shows_the_read_model_as_it_was(
    stored_app: OutdialService, storage: Storage, customer: UUID, tmp_path: Path
) -> None:
    outdial = stored_app.create_outdial(customer)
    target = stored_app.create_target(customer, outdial.id, new_target("+821100000001"))
    before_dial = stored_app.last_position
    stored_app.start_dial(customer, outdial.id, target.id)
    earlier = str(tmp_path / "earlier.sqlite3")
    rebuild(storage, until=before_dial, into=earlier)
    view = open_view(read_model_env(storage, earlier))
    row_then = ReadModelQueries(view).get_target(customer, outdial.id, target.id)
    assert row_then is not None
    assert (row_then["status"], row_then["try_count_0"]) == ("idle", 0)
    assert view.max_tracking_id(stored_app.name) == before_dial


def test_verify_names_the_field_of_a_tampered_row(
    stored_app: OutdialService, read_model: ReadModel, customer: UUID
) -> None:
    outdial = stored_app.create_outdial(customer)
    target = stored_app.create_target(customer, outdial.id, new_target("+821100000001"))
    assert read_model.wait(stored_app.last_position, WAIT)
    with read_model.view.tracked(Tracking("tamper", 1)) as rows:
        rows.execute("UPDATE targets SET status = 'done' WHERE id = :id", {"id": str(target.id)})
    differences = verify(stored_app, read_model.view)[1]
    assert [(d.table, d.row_id, d.field) for d in differences] == [
        ("targets", str(target.id), "status")
    ]
    assert "expected 'idle'" in str(differences[0])


def test_paging_a_batch_of_1000_sharing_one_tm_create_returns_each_once(
    stored_app: OutdialService, read_model: ReadModel, customer: UUID
) -> None:
    outdial = stored_app.create_outdial(customer)
    created = stored_app.create_targets(customer, outdial.id, [new_target("+821100000001")] * 1000)
    assert read_model.wait(stored_app.last_position, 60)
    seen: list[str] = []
    token = ""
    while True:
        page = read_model.queries.page_targets(customer, outdial.id, page_size=37, page_token=token)
        seen += [row["id"] for row in page.result]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 1000
    assert set(seen) == {str(t.id) for t in created}


def test_available_follows_the_rules_of_the_domain(
    stored_app: OutdialService, read_model: ReadModel, clock: FakeClock, customer: UUID
) -> None:
    outdial = stored_app.create_outdial(customer)
    plan = DEFAULT_PLAN.with_changes({"max_try_count_0": 2, "try_interval": 60_000})
    stored_app.change_outdial_plan(customer, outdial.id, plan.as_dict())
    fresh, dialed, deleted = (
        stored_app.create_target(customer, outdial.id, new_target("+821100000001")).id
        for _ in range(3)
    )
    dial = stored_app.start_dial(customer, outdial.id, dialed)
    stored_app.finish_dial(customer, outdial.id, dialed, dial.id, result="fail", reason="busy")
    stored_app.delete_target(customer, outdial.id, deleted)
    assert read_model.wait(stored_app.last_position, WAIT)

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
        target = stored_app.get_target(customer, outdial.id, target_id)
        assert target.is_available(plan, clock.now) == (str(target_id) in available())
    assert (
        read_model.queries.available_targets(
            uuid4(), outdial.id, plan=plan, now=clock.now, limit=100
        )
        == []
    )
    stored_app.delete_outdial(customer, outdial.id)
    assert read_model.wait(stored_app.last_position, WAIT)
    assert available() == []


def test_a_page_token_from_another_list_is_refused(
    stored_app: OutdialService, read_model: ReadModel, customer: UUID
) -> None:
    outdial = stored_app.create_outdial(customer)
    stored_app.create_targets(customer, outdial.id, [new_target("+821100000001")] * 3)
    assert read_model.wait(stored_app.last_position, WAIT)
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


def test_new_target_helper_builds_five_slots() -> None:
    assert len(new_target("+821100000001").destinations) == 5
    assert isinstance(new_target("+821100000001"), NewTarget)


@pytest.mark.postgres
def test_rebuild_into_postgresql_gives_the_same_rows(
    sqlite_storage: Storage, postgres_storage: Storage, clock: FakeClock, customer: UUID
) -> None:
    app = OutdialService(storage=sqlite_storage, clock=clock)
    campaign_day(app, clock, customer)
    app.close()
    rebuild(sqlite_storage)
    assert postgres_storage.database_url
    rebuild(sqlite_storage, into=postgres_storage.database_url)
    local = open_view(read_model_env(sqlite_storage))
    remote = open_view(read_model_env(sqlite_storage, postgres_storage.database_url))
    assert all_rows(remote) == all_rows(local)
    remote.datastore.close()  # type: ignore[attr-defined]  # before the database is dropped


def test_rebuilding_in_place_while_writes_and_the_runner_go_on_loses_nothing(
    stored_app: OutdialService, read_model: ReadModel, storage: Storage, customer: UUID
) -> None:
    outdial = stored_app.create_outdial(customer)
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            stored_app.create_target(customer, outdial.id, new_target("+821100000001"))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        for _ in range(3):
            rebuild(storage)
    finally:
        stop.set()
        writer.join()
    assert read_model.wait(stored_app.recorder.max_notification_id(), WAIT)
    assert verify(stored_app, read_model.view)[1] == []
