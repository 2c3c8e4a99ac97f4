"""Retry rules where they live: how a reason finds its rule, what each action does to a
target (replayed from its events alone), what availability says of it, which rules a
plan refuses, how events and snapshots stored before the rules read back, and that a
do_not_call finish and its entry are one write."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.errors import ConcurrentChange
from application.service import NewEntry, OutdialService
from domain.do_not_call import EVERY_OUTDIAL, DoNotCallEntry, entry_id
from domain.errors import InvalidValue, TargetNotDialable
from domain.plan import Plan
from domain.retry_rules import RetryRule, checked_rules, rule_for
from domain.target import Target
from tests.conftest import START, FakeClock, new_target, tel

TEL_0, TEL_1 = "+821100000001", "+821100000002"
RULES = (
    {"reason": "busy", "action": "retry", "retry_interval": 300_000},
    {"reason": "invalid_number", "action": "next_destination"},
    {"reason": "fax", "action": "finish"},
    {"reason": "do_not_call_requested", "action": "do_not_call"},
)


def plan(*rules: dict[str, Any], **numbers: int) -> Plan:
    return Plan.from_dict(
        {"max_try_count_0": 3, "max_try_count_1": 3, **numbers, "retry_rules": list(rules)}
    )


def new(*numbers: str) -> Target:
    slots = [tel(n) for n in numbers] + [None] * (5 - len(numbers))
    return Target.create(
        target_id=uuid4(), outdial_id=uuid4(), customer_id=uuid4(), destinations=slots, at=START
    )


def dial_and_fail(target: Target, under: Plan, reason: str, *, after_s: float = 0) -> UUID:
    at = (target.last_dial_ended_at or START) + timedelta(seconds=after_s)
    dial = target.start_dial(dial_id=uuid4(), plan=under, at=at, honour_try_interval=False)
    target.finish_dial(dial_id=dial.id, result="fail", reason=reason, at=at + timedelta(seconds=1))
    return dial.id


def replayed(target: Target) -> Target:
    """The target rebuilt from its events alone, as any reader of the store would."""
    aggregate: Any = None
    for event in target.collect_events():
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Target)
    return aggregate


# -- matching --------------------------------------------------------------------------


def test_the_first_rule_whose_reason_matches_whatever_its_case_decides() -> None:
    rules = checked_rules([*RULES, {"reason": "*", "action": "finish"}])
    assert rule_for(rules, "fail", "BUSY") == RetryRule("busy", "retry", 300_000)
    assert rule_for(rules, "fail", "Invalid_Number") == RetryRule(
        "invalid_number", "next_destination"
    )
    assert rule_for(rules, "fail", "noanswer") == RetryRule("*", "finish")
    assert rule_for(rules, "fail", "") == RetryRule("*", "finish")
    assert rule_for(rules, "success", "busy") is None  # rules judge failures only
    assert rule_for(checked_rules(RULES), "fail", "noanswer") is None  # the plain retry


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([{"reason": "busy", "action": "hang_up"}], "plan.retry_rules[0].action"),
        (
            [{"reason": "busy", "action": "finish", "retry_interval": 1}],
            "plan.retry_rules[0].retry_interval",
        ),
        (
            [{"reason": "busy", "action": "retry", "retry_interval": 604_800_001}],
            "plan.retry_rules[0].retry_interval",
        ),
        (
            [{"reason": "busy", "action": "retry", "retry_interval": True}],
            "plan.retry_rules[0].retry_interval",
        ),
        ([{"reason": "busy\x07", "action": "finish"}], "plan.retry_rules[0].reason"),
        ([{"reason": "a", "action": "finish"}] * 2, "plan.retry_rules[1].reason"),
        ([{"reason": f"r{n}", "action": "finish"} for n in range(33)], "plan.retry_rules"),
        (
            [{"reason": "*", "action": "retry"}, {"reason": "b", "action": "retry"}],
            "plan.retry_rules[1].reason",
        ),
        ([{"reason": "a", "action": "finish", "then": "x"}], "plan.retry_rules[0].then"),
        (["busy"], "plan.retry_rules[0]"),
    ],
)
def test_a_plan_refuses_a_rule_that_cannot_be_naming_it(rules: list[Any], field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Plan().with_changes({"retry_rules": rules})
    assert refused.value.field == field


def test_thirty_two_rules_are_allowed_and_none_is_none() -> None:
    many = [{"reason": f"r{n}", "action": "finish"} for n in range(32)]
    assert len(Plan().with_changes({"retry_rules": many}).retry_rules) == 32
    assert Plan().with_changes({"retry_rules": []}).retry_rules == ()


# -- what each action does -------------------------------------------------------------


def test_retry_waits_its_own_interval_and_a_manual_redial_does_not() -> None:
    target, rules = new(TEL_0), plan(*RULES, try_interval=60_000)
    dial_and_fail(target, rules, "busy")
    ended = target.last_dial_ended_at
    assert ended is not None
    judged = target.availability(rules, ended + timedelta(seconds=299))
    assert [b.rule for b in judged.blocked_by] == ["TRY_INTERVAL"]
    assert "by rule busy, 300 s" in judged.blocked_by[0].message
    assert judged.ready_at == ended + timedelta(seconds=300)
    assert target.availability(rules, ended + timedelta(seconds=300)).available
    assert replayed(target).retry_at == ended + timedelta(seconds=300)


def test_next_destination_closes_it_for_good_though_it_has_tries_left() -> None:
    target, rules = new(TEL_0, TEL_1), plan(*RULES)
    dial_and_fail(target, rules, "invalid_number")
    assert target.try_counts[0] == 1 < rules.max_try_count_0
    assert target.closed_destinations == {0}
    assert target.availability(rules, START + timedelta(hours=1)).next_destination == 1
    with pytest.raises(TargetNotDialable, match="destination_0 is closed: invalid_number"):
        target.start_dial(
            dial_id=uuid4(), plan=rules, at=START + timedelta(hours=1), destination_index=0
        )
    dial_and_fail(target, rules, "invalid_number")
    assert target.status == "done"
    judged = target.availability(rules, START + timedelta(hours=2))
    (no_tries,) = [b for b in judged.blocked_by if b.rule == "NO_TRIES_LEFT"]
    assert "destination 0 closed: invalid_number → next_destination" in no_tries.message
    assert "destination 1 closed" in no_tries.message
    assert judged.ready_at is None
    assert replayed(target).closed == target.closed


@pytest.mark.parametrize("reason", ["fax", "do_not_call_requested"])
def test_finish_and_do_not_call_make_the_target_done_whatever_is_left(reason: str) -> None:
    target, rules = new(TEL_0, TEL_1), plan(*RULES)
    dial_id = dial_and_fail(target, rules, reason)
    assert target.status == "done"
    decision = target.decision_of(dial_id)
    assert decision is not None
    assert decision.rule.reason == reason
    judged = target.availability(rules, START + timedelta(days=1))
    assert f"{reason} → " in judged.blocked_by[0].message
    assert judged.ready_at is None
    again = replayed(target)
    assert (again.status, again.finished_by) == ("done", target.finished_by)


def test_a_plan_without_rules_retries_every_failure_as_before() -> None:
    target, rules = new(TEL_0), Plan(max_try_count_0=2, try_interval=60_000)
    dial_and_fail(target, rules, "invalid_number")
    assert (target.status, target.closed, target.retry_at) == ("idle", {}, None)
    ended = target.last_dial_ended_at
    assert ended is not None
    assert target.availability(rules, ended + timedelta(seconds=60)).available
    dial_and_fail(target, rules, "fax")
    assert target.status == "done"  # its tries, not a rule


def test_the_rules_that_decide_are_those_the_dial_recorded_not_the_judged_plans() -> None:
    """A dial started under rules is decided by them even if the outdial's plan has none
    by the time it fails; the next dial's plan decides the next."""
    target = new(TEL_0, TEL_1)
    dial_and_fail(target, plan(*RULES), "invalid_number")
    assert target.closed_destinations == {0}
    dial_and_fail(target, plan(), "fax")
    assert target.status == "idle"  # destination 1 has tries left and no rule finished it


def test_a_late_finish_closes_or_finishes_by_its_own_reason_but_sets_no_new_wait() -> None:
    rules = plan(
        {"reason": "timeout", "action": "retry", "retry_interval": 600_000},
        *RULES,
        dial_timeout=30_000,
    )
    target = new(TEL_0, TEL_1)
    dial = target.start_dial(dial_id=uuid4(), plan=rules, at=START)
    target.time_out_dial(dial_id=dial.id, at=START + timedelta(seconds=31))
    waits_until = target.retry_at
    assert waits_until == START + timedelta(seconds=631)
    target.finish_dial(
        dial_id=dial.id, result="fail", reason="busy", at=START + timedelta(seconds=40)
    )
    assert target.retry_at == waits_until  # the wait began at the timeout
    assert target.status == "idle"
    target.finish_dial(
        dial_id=dial.id, result="fail", reason="busy", at=START + timedelta(seconds=41)
    )  # the same late finish: nothing
    other = new(TEL_0)
    late = other.start_dial(dial_id=uuid4(), plan=rules, at=START)
    other.time_out_dial(dial_id=late.id, at=START + timedelta(seconds=31))
    other.finish_dial(
        dial_id=late.id, result="fail", reason="invalid_number", at=START + timedelta(seconds=40)
    )
    assert (other.closed_destinations, other.status) == ({0}, "done")
    assert replayed(other).status == "done"


# -- stored before the rules -----------------------------------------------------------


def test_a_plan_stored_before_rules_reads_back_with_none(service: OutdialService) -> None:
    transcoder = service.mapper.transcoder
    stored = (
        b'{"p":{"_type_":"plan","_data_":{"max_try_count_0":2,"max_try_count_1":1,'
        b'"max_try_count_2":1,"max_try_count_3":1,"max_try_count_4":1,"try_interval":0,'
        b'"dial_timeout":60000}}}'
    )
    assert transcoder.decode(stored)["p"] == Plan(max_try_count_0=2)


def test_a_snapshot_taken_before_rules_restores_a_target_no_rule_has_decided(
    service: OutdialService, customer: UUID, clock: FakeClock
) -> None:
    outdial = service.create_outdial(customer).value
    (target,) = service.create_targets(customer, outdial.id, [new_target(TEL_0)]).value
    service.take_snapshot(target.id)
    recorded = service.snapshots
    assert recorded is not None
    snapshot: Any
    (snapshot,) = recorded.get(target.id)
    state = dict(snapshot.state)
    for added in ("closed", "finished_by", "waits_by", "class_version"):
        state.pop(added)
    object.__setattr__(snapshot, "state", state)
    restored = snapshot.mutate(None)
    assert isinstance(restored, Target)
    assert (restored.closed, restored.finished_by, restored.waits_by) == ({}, None, None)


# -- do_not_call: one write ------------------------------------------------------------


def test_a_do_not_call_finish_and_its_entry_are_saved_together_or_not_at_all(
    service: OutdialService, customer: UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    outdial = service.create_outdial(customer).value
    service.change_outdial_plan(customer, outdial.id, {"retry_rules": list(RULES)})
    (target,) = service.create_targets(customer, outdial.id, [new_target(TEL_0)]).value
    dial = service.start_dial(customer, outdial.id, target.id).value
    made = DoNotCallEntry.for_dial

    def raced(*args: Any, **kwargs: Any) -> DoNotCallEntry:
        """Someone adds the same entry between the finish's read and its write."""
        entry = made(*args, **kwargs)
        service.add_do_not_call(customer, [NewEntry(target=TEL_0)])
        return entry

    monkeypatch.setattr(DoNotCallEntry, "for_dial", raced)
    before = len(service.recorder.select_events(target.id))
    with pytest.raises(ConcurrentChange):
        service.finish_dial(
            customer, outdial.id, target.id, dial.id, result="fail", reason="do_not_call_requested"
        )
    assert len(service.recorder.select_events(target.id)) == before  # no finish either
    monkeypatch.undo()
    service.finish_dial(
        customer, outdial.id, target.id, dial.id, result="fail", reason="do_not_call_requested"
    )
    assert service.get_target(customer, outdial.id, target.id).status == "done"
    # The entry the other writer added is there for good: the rule leaves it as it is.
    entry = service.get_do_not_call(customer, entry_id(customer, TEL_0, "exact", EVERY_OUTDIAL))
    assert (entry.version, entry.reason) == (1, "")
