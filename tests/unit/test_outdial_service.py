"""Use cases of the application, on the in-memory store."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

import pytest

from application.errors import (
    ConcurrentChange,
    DoNotCallEntryNotFound,
    OutdialNotFound,
    TargetNotFound,
    VersionNotFound,
)
from application.history import (
    do_not_call_events,
    event_record,
    outdial_events,
    replay,
    replay_steps,
    stored_events,
    target_at_time,
    target_at_version,
    target_events,
)
from application.service import BATCH_MAX, NewEntry, NewTarget, OutdialService
from domain.calling_window import CallingWindow
from domain.errors import InvalidValue, OutdialDeleted, OutdialPaused, TargetNotDialable
from domain.outdial import NO_CAMPAIGN
from domain.plan import Plan
from domain.target import Target
from tests.conftest import FakeClock, new_target, tel


def test_new_outdial_has_no_campaign_and_the_default_plan(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer, name="Q1").value
    assert outdial.campaign_id == NO_CAMPAIGN
    assert outdial.plan.max_try_count_0 == 1
    assert (outdial.name, outdial.detail, outdial.data) == ("Q1", "", "")


def test_outdial_plan_changes_keep_fields_left_out(service: OutdialService, customer: UUID) -> None:
    outdial = service.create_outdial(customer).value
    service.change_outdial_plan(customer, outdial.id, {"max_try_count_0": 3, "try_interval": 1000})
    changed = service.change_outdial_plan(customer, outdial.id, {"dial_timeout": 30_000}).value
    assert (changed.plan.max_try_count_0, changed.plan.try_interval, changed.plan.dial_timeout) == (
        3,
        1000,
        30_000,
    )


def test_another_customers_outdial_is_not_found(service: OutdialService, customer: UUID) -> None:
    outdial = service.create_outdial(customer).value
    with pytest.raises(OutdialNotFound):
        service.get_outdial(uuid4(), outdial.id)
    with pytest.raises(OutdialNotFound):
        service.create_target(uuid4(), outdial.id, new_target("+821100000001"))


def test_a_target_under_another_outdial_is_not_found(
    service: OutdialService, customer: UUID
) -> None:
    first, second = service.create_outdial(customer).value, service.create_outdial(customer).value
    target = service.create_target(customer, first.id, new_target("+821100000001")).value
    with pytest.raises(TargetNotFound):
        service.get_target(customer, second.id, target.id)


def test_a_deleted_outdial_takes_no_targets_no_updates_and_deletes_once(
    service: OutdialService, customer: UUID, clock: FakeClock
) -> None:
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value
    deleted = service.delete_outdial(customer, outdial.id).value
    clock.advance(seconds=5)
    again = service.delete_outdial(customer, outdial.id).value
    assert again.deleted_at == deleted.deleted_at
    assert again.version == deleted.version
    with pytest.raises(OutdialDeleted):
        service.create_target(customer, outdial.id, new_target("+821100000001"))
    with pytest.raises(OutdialDeleted):
        service.update_outdial(customer, outdial.id, name="x", detail="y")
    with pytest.raises(TargetNotDialable, match="outdial"):
        service.start_dial(customer, outdial.id, target.id)
    assert service.get_target(customer, outdial.id, target.id).status == "idle"  # still readable


def test_batch_is_all_or_nothing(service: OutdialService, customer: UUID) -> None:
    outdial = service.create_outdial(customer).value
    good = new_target("+821100000001")
    bad = NewTarget(destinations=[None] * 5)
    with pytest.raises(InvalidValue) as error:
        service.create_targets(customer, outdial.id, [good, good, bad])
    assert error.value.field == "targets[2].destination_0"
    assert service.recorder.max_notification_id() == 1  # only the outdial's Created


def test_batch_limit(service: OutdialService, customer: UUID) -> None:
    outdial = service.create_outdial(customer).value
    with pytest.raises(InvalidValue, match="1000"):
        service.create_targets(
            customer, outdial.id, [new_target("+821100000001")] * (BATCH_MAX + 1)
        )
    created = service.create_targets(
        customer, outdial.id, [new_target("+821100000001")] * BATCH_MAX
    ).value
    assert len({t.id for t in created}) == BATCH_MAX


def test_dial_plan_comes_from_the_outdial_unless_the_request_overrides_it(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    service.change_outdial_plan(customer, outdial.id, {"max_try_count_0": 4})
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value
    dial = service.start_dial(
        customer, outdial.id, target.id, plan_changes={"dial_timeout": 5_000}
    ).value
    assert (dial.plan.max_try_count_0, dial.plan.dial_timeout) == (4, 5_000)


def test_finish_is_idempotent_and_records_once(service: OutdialService, customer: UUID) -> None:
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value
    dial = service.start_dial(customer, outdial.id, target.id).value
    first = service.finish_dial(customer, outdial.id, target.id, dial.id, result="success")
    second = service.finish_dial(customer, outdial.id, target.id, dial.id, result="success")
    assert first.value.version == second.value.version == 3
    assert first.position == 4  # the outdial, the target, the start, the finish
    assert second.position is None  # nothing recorded, nothing to wait for


def test_a_commands_target_as_written_is_the_next_loads_copy_and_not_the_callers(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value
    cache = service.repository.cache
    assert cache is not None
    assert cache.get(target.id).version == 1
    assert cache.get(target.id) is not target  # the caller presents its own
    dial = service.start_dial(customer, outdial.id, target.id).value
    cached = cache.get(target.id)
    assert isinstance(cached, Target)
    assert (cached.version, list(cached.dials)) == (2, [str(dial.id)])
    service.delete_target(customer, outdial.id, target.id)
    assert cache.get(target.id).version == 2  # a deleted target is never put
    assert service.get_target(customer, outdial.id, target.id).is_deleted


def test_a_lost_race_is_a_retryable_concurrent_change(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value
    plan = outdial.plan.with_changes({"max_try_count_0": 3})
    mine = service.get_target(customer, outdial.id, target.id)
    theirs = service.get_target(customer, outdial.id, target.id)
    theirs.start_dial(dial_id=uuid4(), plan=plan, at=service.clock())
    service.save(theirs)
    mine.start_dial(dial_id=uuid4(), plan=plan, at=service.clock())
    with pytest.raises(ConcurrentChange):
        service._save(mine, answer=mine)


def test_state_at_version_and_at_time(
    service: OutdialService, customer: UUID, clock: FakeClock
) -> None:
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value
    created_at = clock.now
    clock.advance(seconds=10)
    dial = service.start_dial(customer, outdial.id, target.id).value
    clock.advance(seconds=10)
    service.finish_dial(customer, outdial.id, target.id, dial.id, result="fail", reason="busy")
    assert target_at_version(service, customer, outdial.id, target.id, 2).status == "progressing"
    assert target_at_time(service, customer, outdial.id, target.id, created_at).status == "idle"
    with pytest.raises(VersionNotFound):
        target_at_version(service, customer, outdial.id, target.id, 4)
    with pytest.raises(VersionNotFound):
        target_at_version(service, customer, outdial.id, target.id, 0)
    with pytest.raises(VersionNotFound):
        target_at_time(service, customer, outdial.id, target.id, created_at.replace(year=2020))


def test_replay_steps_give_each_event_and_the_target_after_it(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value
    dial = service.start_dial(customer, outdial.id, target.id).value
    service.finish_dial(customer, outdial.id, target.id, dial.id, result="success")
    seen = [
        (record.type, record.version, after.status, after.try_counts[0])
        for record, after in replay_steps(target_events(service, customer, outdial.id, target.id))
    ]
    assert seen == [
        ("Created", 1, "idle", 0),
        ("DialStarted", 2, "progressing", 1),
        ("DialFinished", 3, "done", 1),
    ]


def test_long_histories_are_snapshotted_and_rebuild_the_same(
    customer: UUID, clock: FakeClock
) -> None:
    service = OutdialService(clock=clock)
    outdial = service.create_outdial(customer).value
    service.change_outdial_plan(customer, outdial.id, {"max_try_count_0": 100})
    target = service.create_target(
        customer, outdial.id, NewTarget([tel(), None, None, None, None])
    ).value
    for _ in range(40):
        dial = service.start_dial(customer, outdial.id, target.id).value
        service.finish_dial(customer, outdial.id, target.id, dial.id, result="fail", reason="busy")
    assert service.snapshots is not None
    assert list(service.snapshots.get(target.id))
    live = service.get_target(customer, outdial.id, target.id)
    replayed = replay(stored_events(service, target.id))
    assert vars(replayed) == vars(live)
    assert live.try_counts[0] == 40


def test_a_batch_of_one_still_names_its_fields_by_position(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    with pytest.raises(InvalidValue) as error:
        service.create_targets(customer, outdial.id, [NewTarget(destinations=[None] * 5)])
    assert error.value.field == "targets[0].destination_0"


class Proposed:
    """Candidates as the read model would propose them, in a fixed order."""

    def __init__(self, *target_ids: UUID) -> None:
        self.target_ids = list(target_ids)
        self.asked: list[int] = []

    def available_target_ids(
        self, customer_id: UUID, outdial_id: UUID, *, plan: Plan, now: datetime, limit: int
    ) -> list[UUID]:
        self.asked.append(limit)
        return self.target_ids[:limit]

    def dials_with_ids(
        self, customer_id: UUID, outdial_id: UUID, dial_ids: list[UUID]
    ) -> list[tuple[UUID, UUID]]:
        return []


def test_dispatch_skips_targets_it_cannot_take_and_answers_which_target_each_dial_is_on(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    busy, free, gone = (
        service.create_target(customer, outdial.id, new_target("+821100000001")).value.id
        for _ in range(3)
    )
    service.start_dial(customer, outdial.id, busy)
    service.delete_target(customer, outdial.id, gone)
    candidates = Proposed(busy, gone, uuid4(), free)
    started = service.dispatch(customer, outdial.id, limit=5, candidates=candidates)
    assert [target_id for target_id, _ in started.value] == [free]
    assert started.value[0][1].try_count == 1
    assert started.position == service.recorder.max_notification_id()
    assert candidates.asked == [20, 16]  # looked again, found only what it had tried


def test_dispatch_when_every_candidate_was_lost_is_a_retryable_conflict(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    taken = service.create_target(customer, outdial.id, new_target("+821100000001")).value.id
    service.start_dial(customer, outdial.id, taken)
    with pytest.raises(ConcurrentChange):
        service.dispatch(customer, outdial.id, limit=1, candidates=Proposed(taken))
    assert service.dispatch(customer, outdial.id, limit=1, candidates=Proposed()).value == []


def test_dispatch_on_a_deleted_outdial_starts_nothing(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value.id
    service.delete_outdial(customer, outdial.id)
    dispatched = service.dispatch(customer, outdial.id, limit=1, candidates=Proposed(target))
    assert (dispatched.value, dispatched.position) == ([], None)


def test_dispatch_redials_a_target_as_soon_as_its_plan_allows(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    service.change_outdial_plan(customer, outdial.id, {"max_try_count_0": 2})
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value.id
    [(_, dial)] = service.dispatch(customer, outdial.id, limit=1, candidates=Proposed(target)).value
    service.finish_dial(customer, outdial.id, target, dial.id, result="fail", reason="busy")
    [(_, again)] = service.dispatch(
        customer, outdial.id, limit=1, candidates=Proposed(target)
    ).value
    assert again.try_count == 2


# -- contact rules: what the API's answers rest on ----------------------------------------

WINDOW = {
    "time_zone": "Asia/Seoul",
    "hours": [{"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"}],
}


def test_a_start_under_a_paused_outdial_is_refused_as_paused_and_other_refusals_are_not(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value
    service.pause_outdial(customer, outdial.id, reason="complaint")
    with pytest.raises(OutdialPaused) as refused:
        service.start_dial(customer, outdial.id, target.id)
    assert refused.value.reason == "OUTDIAL_PAUSED"
    service.resume_outdial(customer, outdial.id)
    service.add_do_not_call(customer, [NewEntry("+821100000001")])
    with pytest.raises(TargetNotDialable) as blocked:
        service.start_dial(customer, outdial.id, target.id)
    assert blocked.value.reason == "TARGET_NOT_DIALABLE"


def test_an_outdials_events_say_who_paused_it_and_why_for_its_customer_only(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer, actor="kid_a").value
    service.pause_outdial(customer, outdial.id, reason="complaint", actor="kid_b")
    service.pause_outdial(customer, outdial.id, reason="again")  # records nothing
    window = CallingWindow.parse(WINDOW)
    service.change_calling_window(customer, outdial.id, window, actor="kid_a")
    service.change_calling_window(customer, outdial.id, window)  # the same: nothing
    service.resume_outdial(customer, outdial.id, actor="kid_a")
    records = [event_record(e) for e in outdial_events(service, customer, outdial.id)]
    assert [(r.version, r.type, r.data["actor"]) for r in records] == [
        (1, "Created", "kid_a"),
        (2, "Paused", "kid_b"),
        (3, "CallingWindowChanged", "kid_a"),
        (4, "Resumed", "kid_a"),
    ]
    assert records[1].data["reason"] == "complaint"
    assert records[2].data["window"] == window
    target = service.create_target(customer, outdial.id, new_target("+821100000001")).value
    with pytest.raises(OutdialNotFound):
        outdial_events(service, uuid4(), outdial.id)
    with pytest.raises(OutdialNotFound):
        outdial_events(service, customer, target.id)  # a target is no outdial
    with pytest.raises(OutdialNotFound):
        outdial_events(service, customer, uuid4())


def test_an_entrys_events_say_who_added_and_removed_it_for_its_customer_only(
    service: OutdialService, customer: UUID
) -> None:
    [entry] = service.add_do_not_call(customer, [NewEntry("+821100000001")], actor="kid_a").value
    service.add_do_not_call(customer, [NewEntry("+821100000001", reason="asked")], actor="kid_b")
    service.remove_do_not_call(customer, entry.id, actor="kid_c")
    service.remove_do_not_call(customer, entry.id)  # removed already: nothing
    records = [event_record(e) for e in do_not_call_events(service, customer, entry.id)]
    assert [(r.type, r.data["actor"]) for r in records] == [
        ("Added", "kid_a"),
        ("Changed", "kid_b"),
        ("Removed", "kid_c"),
    ]
    assert (records[1].data["reason"], records[1].data["expires_at"]) == ("asked", None)
    with pytest.raises(DoNotCallEntryNotFound):
        do_not_call_events(service, uuid4(), entry.id)
    outdial = service.create_outdial(customer).value
    with pytest.raises(DoNotCallEntryNotFound):
        do_not_call_events(service, customer, outdial.id)


def test_a_window_given_as_a_body_names_its_fields_bare() -> None:
    with pytest.raises(InvalidValue) as refused:
        CallingWindow.parse(
            {**WINDOW, "hours": [{"days": [1], "start": "10:00", "end": "09:00"}]}, ""
        )
    assert refused.value.field == "hours[0].end"
    with pytest.raises(InvalidValue) as refused:
        CallingWindow.parse({**WINDOW, "time_zone": "Mars/Olympus"}, "")
    assert refused.value.field == "time_zone"
