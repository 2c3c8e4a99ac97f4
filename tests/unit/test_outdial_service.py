"""Use cases of the application, on the in-memory store."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from application.errors import ConcurrentChange, OutdialNotFound, TargetNotFound, VersionNotFound
from application.history import (
    replay,
    replay_trace,
    stored_events,
    target_at_time,
    target_at_version,
    target_events,
    target_record,
)
from application.service import BATCH_MAX, NewTarget, OutdialService
from application.storage import Storage
from domain.errors import InvalidValue, OutdialDeleted, TargetNotDialable
from domain.outdial import NO_CAMPAIGN
from tests.conftest import FakeClock, new_target, tel


def test_new_outdial_has_no_campaign_and_the_default_plan(
    app: OutdialService, customer: UUID
) -> None:
    outdial = app.create_outdial(customer, name="Q1")
    assert outdial.campaign_id == NO_CAMPAIGN
    assert outdial.plan.max_try_count_0 == 1
    assert (outdial.name, outdial.detail, outdial.data) == ("Q1", "", "")


def test_outdial_plan_changes_keep_fields_left_out(app: OutdialService, customer: UUID) -> None:
    outdial = app.create_outdial(customer)
    app.change_outdial_plan(customer, outdial.id, {"max_try_count_0": 3, "try_interval": 1000})
    changed = app.change_outdial_plan(customer, outdial.id, {"dial_timeout": 30_000})
    assert (changed.plan.max_try_count_0, changed.plan.try_interval, changed.plan.dial_timeout) == (
        3,
        1000,
        30_000,
    )


def test_another_customers_outdial_is_not_found(app: OutdialService, customer: UUID) -> None:
    outdial = app.create_outdial(customer)
    with pytest.raises(OutdialNotFound):
        app.get_outdial(uuid4(), outdial.id)
    with pytest.raises(OutdialNotFound):
        app.create_target(uuid4(), outdial.id, new_target("+821100000001"))


def test_a_target_under_another_outdial_is_not_found(app: OutdialService, customer: UUID) -> None:
    first, second = app.create_outdial(customer), app.create_outdial(customer)
    target = app.create_target(customer, first.id, new_target("+821100000001"))
    with pytest.raises(TargetNotFound):
        app.get_target(customer, second.id, target.id)


def test_a_deleted_outdial_takes_no_targets_no_updates_and_deletes_once(
    app: OutdialService, customer: UUID, clock: FakeClock
) -> None:
    outdial = app.create_outdial(customer)
    target = app.create_target(customer, outdial.id, new_target("+821100000001"))
    deleted = app.delete_outdial(customer, outdial.id)
    clock.advance(seconds=5)
    again = app.delete_outdial(customer, outdial.id)
    assert again.deleted_at == deleted.deleted_at
    assert again.version == deleted.version
    with pytest.raises(OutdialDeleted):
        app.create_target(customer, outdial.id, new_target("+821100000001"))
    with pytest.raises(OutdialDeleted):
        app.update_outdial(customer, outdial.id, name="x", detail="y")
    with pytest.raises(TargetNotDialable, match="outdial"):
        app.start_dial(customer, outdial.id, target.id)
    assert app.get_target(customer, outdial.id, target.id).status == "idle"  # still readable


def test_batch_is_all_or_nothing(app: OutdialService, customer: UUID) -> None:
    outdial = app.create_outdial(customer)
    good = new_target("+821100000001")
    bad = NewTarget(destinations=[None] * 5)
    with pytest.raises(InvalidValue) as error:
        app.create_targets(customer, outdial.id, [good, good, bad])
    assert error.value.field == "targets[2].destination_0"
    assert app.recorder.max_notification_id() == 1  # only the outdial's Created


def test_batch_limit(app: OutdialService, customer: UUID) -> None:
    outdial = app.create_outdial(customer)
    with pytest.raises(InvalidValue, match="1000"):
        app.create_targets(customer, outdial.id, [new_target("+821100000001")] * (BATCH_MAX + 1))
    created = app.create_targets(customer, outdial.id, [new_target("+821100000001")] * BATCH_MAX)
    assert len({t.id for t in created}) == BATCH_MAX


def test_dial_plan_comes_from_the_outdial_unless_the_request_overrides_it(
    app: OutdialService, customer: UUID
) -> None:
    outdial = app.create_outdial(customer)
    app.change_outdial_plan(customer, outdial.id, {"max_try_count_0": 4})
    target = app.create_target(customer, outdial.id, new_target("+821100000001"))
    dial = app.start_dial(customer, outdial.id, target.id, plan_changes={"dial_timeout": 5_000})
    assert (dial.plan.max_try_count_0, dial.plan.dial_timeout) == (4, 5_000)


def test_finish_is_idempotent_and_records_once(app: OutdialService, customer: UUID) -> None:
    outdial = app.create_outdial(customer)
    target = app.create_target(customer, outdial.id, new_target("+821100000001"))
    dial = app.start_dial(customer, outdial.id, target.id)
    first = app.finish_dial(customer, outdial.id, target.id, dial.id, result="success")
    second = app.finish_dial(customer, outdial.id, target.id, dial.id, result="success")
    assert first.version == second.version == 3


def test_a_lost_race_is_a_retryable_concurrent_change(app: OutdialService, customer: UUID) -> None:
    outdial = app.create_outdial(customer)
    target = app.create_target(customer, outdial.id, new_target("+821100000001"))
    plan = outdial.plan.with_changes({"max_try_count_0": 3})
    mine = app.get_target(customer, outdial.id, target.id)
    theirs = app.get_target(customer, outdial.id, target.id)
    theirs.start_dial(dial_id=uuid4(), plan=plan, at=app.clock())
    app.save(theirs)
    mine.start_dial(dial_id=uuid4(), plan=plan, at=app.clock())
    with pytest.raises(ConcurrentChange):
        app._save(mine)


def test_state_at_version_and_at_time(
    app: OutdialService, customer: UUID, clock: FakeClock
) -> None:
    outdial = app.create_outdial(customer)
    target = app.create_target(customer, outdial.id, new_target("+821100000001"))
    created_at = clock.now
    clock.advance(seconds=10)
    dial = app.start_dial(customer, outdial.id, target.id)
    clock.advance(seconds=10)
    app.finish_dial(customer, outdial.id, target.id, dial.id, result="fail", reason="busy")
    assert target_at_version(app, customer, outdial.id, target.id, 2).status == "progressing"
    assert target_at_time(app, customer, outdial.id, target.id, created_at).status == "idle"
    with pytest.raises(VersionNotFound):
        target_at_version(app, customer, outdial.id, target.id, 4)
    with pytest.raises(VersionNotFound):
        target_at_version(app, customer, outdial.id, target.id, 0)
    with pytest.raises(VersionNotFound):
        target_at_time(app, customer, outdial.id, target.id, created_at.replace(year=2020))


def test_replay_trace_names_the_fields_each_event_changed(
    app: OutdialService, customer: UUID
) -> None:
    outdial = app.create_outdial(customer)
    target = app.create_target(customer, outdial.id, new_target("+821100000001"))
    dial = app.start_dial(customer, outdial.id, target.id)
    app.finish_dial(customer, outdial.id, target.id, dial.id, result="success")
    steps = replay_trace(target_events(app, customer, outdial.id, target.id))
    assert [s.event.type for s in steps] == ["Created", "DialStarted", "DialFinished"]
    assert set(steps[1].changes) == {"status", "try_count_0", "tm_update"}
    assert steps[1].changes["status"] == ("idle", "progressing")
    assert set(steps[2].changes) == {"status", "tm_update"}
    assert steps[-1].state == target_record(app.get_target(customer, outdial.id, target.id))


def test_long_histories_are_snapshotted_and_rebuild_the_same(
    customer: UUID, clock: FakeClock
) -> None:
    app = OutdialService(storage=Storage.in_memory(), clock=clock)
    outdial = app.create_outdial(customer)
    app.change_outdial_plan(customer, outdial.id, {"max_try_count_0": 100})
    target = app.create_target(customer, outdial.id, NewTarget([tel(), None, None, None, None]))
    for _ in range(40):
        dial = app.start_dial(customer, outdial.id, target.id)
        app.finish_dial(customer, outdial.id, target.id, dial.id, result="fail", reason="busy")
    assert app.snapshots is not None
    assert list(app.snapshots.get(target.id))
    live = app.get_target(customer, outdial.id, target.id)
    assert target_record(replay(stored_events(app, target.id))) == target_record(live)
    assert live.try_counts[0] == 40


def test_a_batch_of_one_still_names_its_fields_by_position(
    app: OutdialService, customer: UUID
) -> None:
    outdial = app.create_outdial(customer)
    with pytest.raises(InvalidValue) as error:
        app.create_targets(customer, outdial.id, [NewTarget(destinations=[None] * 5)])
    assert error.value.field == "targets[0].destination_0"


def test_dispatch_skips_targets_it_cannot_take_and_answers_which_target_each_dial_is_on(
    app: OutdialService, customer: UUID
) -> None:
    outdial = app.create_outdial(customer)
    busy, free, gone = (
        app.create_target(customer, outdial.id, new_target("+821100000001")).id for _ in range(3)
    )
    app.start_dial(customer, outdial.id, busy)
    app.delete_target(customer, outdial.id, gone)
    started = app.dispatch(customer, outdial.id, [busy, gone, uuid4(), free], limit=5)
    assert [target_id for target_id, _ in started] == [free]
    assert started[0][1].try_count == 1


def test_dispatch_redials_a_target_as_soon_as_its_plan_allows(
    app: OutdialService, customer: UUID
) -> None:
    outdial = app.create_outdial(customer)
    app.change_outdial_plan(customer, outdial.id, {"max_try_count_0": 2})
    target = app.create_target(customer, outdial.id, new_target("+821100000001")).id
    [(_, dial)] = app.dispatch(customer, outdial.id, [target], limit=1)
    app.finish_dial(customer, outdial.id, target, dial.id, result="fail", reason="busy")
    [(_, again)] = app.dispatch(customer, outdial.id, [target], limit=1)
    assert again.try_count == 2
