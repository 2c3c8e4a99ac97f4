"""Property: after any command sequence, the incrementally projected read model equals
the replay of the events, on the embedded store; with plans whose retry rules close
destinations, finish targets, list addresses as do-not-call and set their own waits, on
finishes in time and late ones after the service's time-out."""

from __future__ import annotations

import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.event_log import StoredEventLog
from adapters.read_model_store import open_read_model
from adapters.stores import Storage
from application.errors import REFUSALS
from application.service import OutdialService
from projections.rebuild import catch_up
from projections.verify import verify
from tests.conftest import FakeClock, examples, new_target
from tests.retry_rule_strategies import cased as rule_reasons
from tests.retry_rule_strategies import wired

REASONS = ["busy", "noanswer", "invalid_number", "amd", "timeout"]
cased = rule_reasons(REASONS)
# A finish's reason: one a rule may name (in any case), or another.
reasons = cased | st.sampled_from(["", "normal", "no answer"])


def rule_lists(min_size: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A plan's retry rules, ``min_size`` to 4: every action, waits of their own or not."""
    return st.lists(
        st.tuples(
            cased | st.just("*"),
            st.sampled_from(["retry", "next_destination", "finish", "do_not_call"]),
            st.sampled_from([90_000, None, 1_000, 0]),
        ),
        min_size=min_size,
        max_size=4,
        unique_by=lambda spec: spec[0].casefold(),
    ).map(wired)


retry_rules = rule_lists(0)
# Dial and fail the same target again and again: reaches retry exhaustion, and the rules'
# decisions on one target one after another.
walk = st.tuples(st.just("walk"), st.integers(0, 5), st.integers(1, 4), reasons)
steps = st.one_of(
    st.tuples(st.just("create"), st.integers(1, 3)),
    st.tuples(
        st.just("dial"),
        st.integers(0, 5),
        st.none() | st.integers(0, 1),
        st.none() | retry_rules,  # rules of this dial's own plan
        st.booleans(),  # manual
    ),
    st.tuples(st.just("finish"), st.integers(0, 5), st.sampled_from(["success", "fail"]), reasons),
    st.tuples(st.just("time_out"), st.integers(0, 5)),
    # A dial (the one in flight, or a new one) the service times out, and its caller's
    # finish comes late.
    st.tuples(st.just("late"), st.integers(0, 5), st.sampled_from(["fail", "success"]), reasons),
    st.tuples(st.just("delete"), st.integers(0, 5)),
    st.tuples(st.just("plan"), st.integers(0, 3), st.integers(0, 30_000)),
    st.tuples(st.just("rules"), retry_rules),
    st.tuples(st.just("wait"), st.integers(1, 120_000)),
    st.tuples(st.just("project")),
)
command = steps | walk  # walks as often as all the other steps


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(  # late finishes: one closes a destination, one waits by its rule (it must not),
    # one finishes its target and lists its address; and a walk through the rules
    commands=[
        ("late", 0, "fail", "BUSY"),
        ("late", 1, "fail", "noanswer"),
        ("create", 1),
        ("late", 2, "fail", "amd"),
        ("project",),
        ("walk", 1, 2, "noanswer"),
        ("walk", 0, 2, "Busy"),
    ],
    rules=[
        {"reason": "busy", "action": "next_destination"},
        {"reason": "noanswer", "action": "retry", "retry_interval": 90_000},
        {"reason": "amd", "action": "do_not_call"},
    ],
)
@given(
    commands=st.lists(command, min_size=4, max_size=30),
    rules=rule_lists(1) | st.just([]),  # the campaign's first, mostly some
)
def test_projection_equals_replay(
    commands: list[tuple[object, ...]], rules: list[dict[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        storage = Storage(data_dir=Path(directory))
        clock = FakeClock()
        service = OutdialService(storage.event_store_env(), clock=clock)
        events = StoredEventLog(service, storage)
        view = open_read_model(storage, events).view
        try:
            customer = uuid4()
            outdial = service.create_outdial(customer).value.id
            targets: list[UUID] = []
            dials: dict[UUID, UUID] = {}
            run(service, clock, customer, outdial, targets, dials, ("rules", rules))
            run(service, clock, customer, outdial, targets, dials, ("create", 2))
            for step in commands:
                with suppress(*REFUSALS):
                    run(service, clock, customer, outdial, targets, dials, step)
                if step[0] == "project":
                    catch_up(events, view)
                    assert verify(events, view)[1] == []
            catch_up(events, view)
            position, differences = verify(events, view)
            assert differences == []
            assert position == events.head()
        finally:
            events.close()
            service.close()


def run(
    service: OutdialService,
    clock: FakeClock,
    customer: UUID,
    outdial: UUID,
    targets: list[UUID],
    dials: dict[UUID, UUID],
    step: tuple[object, ...],
) -> None:
    kind, *args = step
    pick = (
        targets[args[0] % len(targets)] if targets and args and isinstance(args[0], int) else None
    )
    if kind == "create":
        count = int(args[0])  # type: ignore[call-overload]
        batch = [new_target("+821100000001", "+821100000002")] * count
        targets += [t.id for t in service.create_targets(customer, outdial, batch).value]
    elif kind == "dial" and pick:
        index, rules, manual = args[1:]
        started = service.start_dial(
            customer,
            outdial,
            pick,
            destination_index=index,  # type: ignore[arg-type]
            plan_changes=None if rules is None else {"retry_rules": rules},
            manual=bool(manual),
        )
        dials[pick] = started.value.id
    elif kind == "finish" and pick in dials:
        service.finish_dial(
            customer, outdial, pick, dials[pick], result=str(args[1]), reason=str(args[2])
        )
    elif kind == "time_out" and pick in dials:
        clock.advance(minutes=2)
        service.time_out_dial(pick, dials[pick])
    elif kind == "late" and pick:
        with suppress(*REFUSALS):
            dials[pick] = service.start_dial(customer, outdial, pick).value.id
        if pick not in dials:
            return
        clock.advance(minutes=2)
        service.time_out_dial(pick, dials[pick])
        service.finish_dial(
            customer, outdial, pick, dials[pick], result=str(args[1]), reason=str(args[2])
        )
    elif kind == "delete" and pick:
        service.delete_target(customer, outdial, pick)
    elif kind == "plan":
        changes = {"max_try_count_0": args[0], "max_try_count_1": 1, "try_interval": args[1]}
        service.change_outdial_plan(customer, outdial, changes)
    elif kind == "rules":
        service.change_outdial_plan(customer, outdial, {"retry_rules": args[0]})
    elif kind == "walk" and pick:
        for _ in range(int(args[1])):  # type: ignore[call-overload]
            dial = service.start_dial(customer, outdial, pick).value
            dials[pick] = dial.id
            service.finish_dial(
                customer, outdial, pick, dial.id, result="fail", reason=str(args[2])
            )
    elif kind == "wait":
        clock.advance(milliseconds=int(args[0]))  # type: ignore[call-overload]
