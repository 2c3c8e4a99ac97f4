"""The domain rules of docs/design.md, rule by rule, on the Target aggregate alone (no store)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from application.history import replay
from domain.address import Address
from domain.errors import (
    DialAlreadyFinished,
    DialNotFound,
    DialStillInTime,
    InvalidValue,
    TargetNotDialable,
)
from domain.plan import DEFAULT_PLAN, Plan
from domain.target import REASON_MAX, Dial, Target
from tests.conftest import START, tel

T0 = START


def make_target(*numbers: str | None) -> Target:
    slots: list[Address | None] = [tel(n) if n else None for n in numbers]
    slots += [None] * (5 - len(slots))
    return Target.create(
        target_id=uuid4(), outdial_id=uuid4(), customer_id=uuid4(), destinations=slots, at=T0
    )


def plan(*tries: int, try_interval: int = 0, dial_timeout: int = 60_000) -> Plan:
    counts = list(tries) + [1] * (5 - len(tries))
    tries_per_slot = {f"max_try_count_{n}": count for n, count in enumerate(counts)}
    return DEFAULT_PLAN.with_changes(
        {**tries_per_slot, "try_interval": try_interval, "dial_timeout": dial_timeout}
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def dial(
    target: Target,
    p: Plan = DEFAULT_PLAN,
    seconds: float = 1,
    destination_index: int | None = None,
    *,
    honour_try_interval: bool = True,
) -> Dial:
    return target.start_dial(
        dial_id=uuid4(),
        plan=p,
        at=at(seconds),
        destination_index=destination_index,
        honour_try_interval=honour_try_interval,
    )


def test_created_target_is_idle_with_all_try_counts_zero() -> None:
    target = make_target("+821100000001")
    assert target.status == "idle"
    assert target.try_counts == [0, 0, 0, 0, 0]
    assert target.created_on == target.modified_on == T0
    assert target.deleted_at is None


def test_a_target_needs_at_least_one_destination() -> None:
    with pytest.raises(InvalidValue) as error:
        make_target()
    assert error.value.field == "destination_0"


def test_under_the_default_plan_each_destination_is_tried_once_with_a_minute_to_answer() -> None:
    target = make_target("+821100000001", "+821100000002")
    first = dial(target, seconds=1)
    with pytest.raises(DialStillInTime):
        target.time_out_dial(dial_id=first.id, at=at(60.9))
    target.time_out_dial(dial_id=first.id, at=at(61))  # a minute after it started
    assert target.status == "idle"
    second = dial(target, seconds=61)  # no try_interval to wait for
    assert second.destination_index == 1
    target.finish_dial(dial_id=second.id, result="fail", reason="busy", at=at(62))
    assert (target.status, target.try_counts) == ("done", [1, 1, 0, 0, 0])


def test_next_destination_is_the_lowest_eligible_one() -> None:
    target = make_target(None, "+821100000002", "+821100000003")
    assert target.next_destination(DEFAULT_PLAN) == 1
    assert target.next_destination(plan(1, 0)) == 2
    assert target.next_destination(plan(1, 0, 0)) is None


def test_dial_start_increments_the_try_count_and_makes_the_target_progressing() -> None:
    target = make_target("+821100000001", "+821100000002")
    started = dial(target)
    assert started.destination_index == 0
    assert started.try_count == 1
    assert target.try_counts == [1, 0, 0, 0, 0]
    assert target.status == "progressing"


def test_dial_start_records_the_plan_it_ran_under() -> None:
    target = make_target("+821100000001")
    p = plan(3, try_interval=5_000)
    dial(target, p)
    started = target.pending_events[-1]
    assert isinstance(started, Target.DialStarted)
    assert started.plan == p


def test_dial_start_refused_while_a_dial_is_in_flight() -> None:
    target = make_target("+821100000001")
    dial(target, plan(3))
    with pytest.raises(TargetNotDialable, match="progressing"):
        dial(target, plan(3), seconds=2)


def test_dial_start_refused_on_a_named_destination_that_is_unset() -> None:
    target = make_target("+821100000001")
    with pytest.raises(TargetNotDialable, match="destination_3 is not set"):
        dial(target, destination_index=3)


def test_dial_start_refused_on_a_named_destination_without_tries_left() -> None:
    target = make_target("+821100000001", "+821100000002")
    with pytest.raises(TargetNotDialable, match="destination_0 has used its 0 tries"):
        dial(target, plan(0, 1), destination_index=0)


def test_dial_start_on_a_named_eligible_destination_out_of_order() -> None:
    target = make_target("+821100000001", "+821100000002")
    assert dial(target, destination_index=1).destination_index == 1
    assert target.try_counts == [0, 1, 0, 0, 0]


def test_destination_index_out_of_range_is_invalid() -> None:
    target = make_target("+821100000001")
    with pytest.raises(InvalidValue) as error:
        dial(target, destination_index=5)
    assert error.value.field == "destination_index"


def test_success_makes_the_target_done() -> None:
    target = make_target("+821100000001", "+821100000002")
    started = dial(target, plan(3, 3))
    target.finish_dial(dial_id=started.id, result="success", reason="normal", at=at(2))
    assert target.status == "done"


def test_fail_with_retries_left_makes_the_target_idle() -> None:
    target = make_target("+821100000001")
    started = dial(target, plan(2))
    target.finish_dial(dial_id=started.id, result="fail", reason="busy", at=at(2))
    assert target.status == "idle"


def test_fail_on_last_try_makes_target_done() -> None:
    target = make_target("+821100000001", "+821100000002")
    p = plan(1, 1)
    first = dial(target, p)
    target.finish_dial(dial_id=first.id, result="fail", reason="busy", at=at(2))
    assert target.status == "idle"
    second = dial(target, p, seconds=3)
    target.finish_dial(dial_id=second.id, result="fail", reason="noanswer", at=at(4))
    assert target.status == "done"
    assert target.try_counts == [1, 1, 0, 0, 0]


def test_exhaustion_is_judged_under_the_plan_of_the_finished_dial() -> None:
    one_try, two_tries = make_target("+821100000001"), make_target("+821100000001")
    for target, p in [(one_try, plan(1)), (two_tries, plan(2))]:
        started = dial(target, p)
        target.finish_dial(dial_id=started.id, result="fail", reason="busy", at=at(2))
    # The same failure: spent under a plan of one try, not under a plan of two.
    assert one_try.status == "done"
    assert two_tries.status == "idle"
    # A later, more generous plan does not reopen what the dial's own plan closed.
    assert not one_try.availability(plan(5), at(10)).available
    assert two_tries.availability(plan(5), at(10)).available


def test_retry_walk_two_destinations_tries_two_and_one() -> None:
    """max_try_count 2 and 1 dial destinations 0, 0, 1, then the target is done."""
    target = make_target("+821100000001", "+821100000002")
    p = plan(2, 1)
    walked = []
    for step in range(3):
        started = dial(target, p, seconds=10 * step + 1)
        walked.append(started.destination_index)
        target.finish_dial(dial_id=started.id, result="fail", reason="busy", at=at(10 * step + 2))
    assert walked == [0, 0, 1]
    assert target.status == "done"
    with pytest.raises(TargetNotDialable):
        dial(target, p, seconds=100)


def test_finish_of_an_unknown_dial_is_refused() -> None:
    target = make_target("+821100000001")
    with pytest.raises(DialNotFound):
        target.finish_dial(dial_id=uuid4(), result="fail", reason="", at=at(2))


def test_finish_with_an_unknown_result_is_invalid() -> None:
    target = make_target("+821100000001")
    started = dial(target)
    with pytest.raises(InvalidValue) as error:
        target.finish_dial(dial_id=started.id, result="maybe", reason="", at=at(2))
    assert error.value.field == "result"


def test_repeating_the_same_finish_records_nothing() -> None:
    target = make_target("+821100000001")
    started = dial(target, plan(3))
    assert target.finish_dial(dial_id=started.id, result="fail", reason="busy", at=at(2))
    version = target.version
    assert not target.finish_dial(dial_id=started.id, result="fail", reason="busy", at=at(3))
    assert target.version == version


def test_a_different_result_for_a_finished_dial_is_refused() -> None:
    target = make_target("+821100000001")
    started = dial(target, plan(3))
    target.finish_dial(dial_id=started.id, result="fail", reason="busy", at=at(2))
    with pytest.raises(DialAlreadyFinished):
        target.finish_dial(dial_id=started.id, result="success", reason="", at=at(3))


def test_unknown_reason_is_recorded_and_an_overlong_one_is_cut_to_64() -> None:
    target = make_target("+821100000001")
    started = dial(target)
    target.finish_dial(dial_id=started.id, result="fail", reason="x" * 100, at=at(2))
    assert target.dials[str(started.id)].reason == "x" * REASON_MAX


def test_delete_leaves_status_as_it_was_and_happens_once() -> None:
    target = make_target("+821100000001")
    dial(target)
    assert target.delete(at=at(2))
    assert target.status == "progressing"
    assert target.deleted_at == at(2)
    version = target.version
    assert not target.delete(at=at(3))
    assert target.version == version
    assert target.deleted_at == at(2)


def test_a_deleted_target_is_never_dialed() -> None:
    target = make_target("+821100000001")
    target.delete(at=at(1))
    with pytest.raises(TargetNotDialable, match="deleted"):
        dial(target, seconds=2)
    assert not target.availability(DEFAULT_PLAN, at(3)).available


def test_a_dial_in_flight_when_deleted_may_still_finish() -> None:
    target = make_target("+821100000001")
    started = dial(target, plan(3))
    target.delete(at=at(2))
    target.finish_dial(dial_id=started.id, result="success", reason="normal", at=at(3))
    assert target.dials[str(started.id)].result == "success"
    assert target.status == "done"


def test_available_waits_for_try_interval_after_the_last_dial_ended() -> None:
    target = make_target("+821100000001")
    p = plan(3, try_interval=30_000)
    assert target.availability(p, at(0)).available  # never dialed: at once
    started = dial(target, p)
    target.finish_dial(dial_id=started.id, result="fail", reason="busy", at=at(10))
    assert not target.availability(p, at(39)).available
    assert target.availability(p, at(40)).available
    with pytest.raises(TargetNotDialable, match="try_interval"):
        dial(target, p, seconds=39)


def test_a_manual_redial_does_not_wait_for_try_interval() -> None:
    target = make_target("+821100000001")
    p = plan(3, try_interval=30_000)
    started = dial(target, p)
    target.finish_dial(dial_id=started.id, result="fail", reason="busy", at=at(10))
    again = dial(target, p, seconds=11, honour_try_interval=False)
    assert again.try_count == 2


def test_service_times_out_a_dial_only_after_its_dial_timeout() -> None:
    target = make_target("+821100000001")
    started = dial(target, plan(3, dial_timeout=5_000))
    with pytest.raises(DialStillInTime):
        target.time_out_dial(dial_id=started.id, at=at(5.9))
    target.time_out_dial(dial_id=started.id, at=at(6))
    finished = target.dials[str(started.id)]
    assert (finished.result, finished.reason, finished.timed_out) == ("fail", "timeout", True)
    assert target.status == "idle"


def test_a_late_success_after_a_timeout_is_recorded_and_makes_the_target_done() -> None:
    target = make_target("+821100000001")
    started = dial(target, plan(3, dial_timeout=5_000))
    target.time_out_dial(dial_id=started.id, at=at(6))
    assert target.finish_dial(dial_id=started.id, result="success", reason="normal", at=at(7))
    late = target.pending_events[-1]
    assert isinstance(late, Target.DialFinished)
    assert late.late
    assert target.status == "done"
    # Only one late finish is accepted; repeating it records nothing.
    assert not target.finish_dial(dial_id=started.id, result="success", reason="normal", at=at(8))
    with pytest.raises(DialAlreadyFinished):
        target.finish_dial(dial_id=started.id, result="fail", reason="", at=at(9))


def test_event_times_are_strictly_increasing_even_when_the_clock_goes_back() -> None:
    target = make_target("+821100000001")
    dial(target, seconds=-30)  # a host whose clock lags
    target.delete(at=at(-60))
    times = [e.timestamp for e in target.pending_events]
    assert all(
        later - earlier >= timedelta(microseconds=1) for earlier, later in itertools.pairwise(times)
    )


def test_replaying_the_events_rebuilds_the_same_state() -> None:
    target = make_target("+821100000001", "+821100000002")
    started = dial(target, plan(2, 1))
    target.finish_dial(dial_id=started.id, result="fail", reason="busy", at=at(2))
    target.delete(at=at(3))
    rebuilt = replay(target.pending_events)
    assert vars(rebuilt) | {"_pending_events": []} == vars(target) | {"_pending_events": []}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_try_count_0", -1),
        ("max_try_count_4", 101),
        ("try_interval", 604_800_001),
        ("dial_timeout", 999),
        ("dial_timeout", 86_400_001),
    ],
)
def test_plan_values_outside_their_ranges_are_invalid(field: str, value: int) -> None:
    with pytest.raises(InvalidValue) as error:
        DEFAULT_PLAN.with_changes({field: value})
    assert error.value.field == f"plan.{field}"


def test_plan_changes_keep_the_fields_left_out() -> None:
    changed = plan(3, 2, try_interval=1_000).with_changes({"max_try_count_1": 5})
    assert (changed.max_try_count_0, changed.max_try_count_1, changed.try_interval) == (3, 5, 1_000)
