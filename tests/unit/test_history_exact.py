"""The history's wire form, byte for byte, against a straightforward presentation of it.

GET .../replay, GET .../events and `outdial replay --json` present each state whole, read
every field of each event's class and turn each stored value into JSON the plain way;
the presenters build each state from the one before it and skip the work that gives the
same answer. Whatever they skip, the bytes must be the ones the plain way gives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from api import presenters
from application.history import (
    do_not_call_events,
    event_record,
    outdial_events,
    replay_steps,
    target_events,
)
from application.service import NewEntry, OutdialService
from domain.address import Address
from domain.calling_window import CallingWindow
from domain.plan import Plan
from domain.target import Target
from domain.timeline import format_timestamp
from tests.conftest import START, FakeClock, new_target, tel

ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}
RULES = [
    {"reason": "timeout", "action": "retry", "retry_interval": 600_000},
    {"reason": "invalid_number", "action": "next_destination"},
    {"reason": "busy", "action": "retry", "retry_interval": 300_000},
    {"reason": "hung_up", "action": "finish"},
]
EVERY_DAY = {
    "time_zone": "Asia/Seoul",
    "hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}],
}
Edit = Callable[[Target], None]
ELSEWHERE = UUID("0190a8c2-7c4e-7d1e-9a7b-2f3c4d5e6f70")


# -- the plain way ---------------------------------------------------------------------


def plain_wire(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): plain_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_wire(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, Address | Plan | CallingWindow):
        return value.as_dict()
    return value


def plain_event(event: Any) -> dict[str, Any]:
    data = {k: v for k, v in vars(event).items() if k not in ENVELOPE}
    for field in dataclasses.fields(event):
        if field.name not in ENVELOPE and field.name not in data:
            data[field.name] = getattr(event, field.name)
    return {
        "version": event.originator_version,
        "type": type(event).__name__,
        "timestamp": format_timestamp(event.timestamp),
        "data": plain_wire(data),
    }


def plain_steps(events: Iterable[Any]) -> Iterator[tuple[Any, Target]]:
    target: Any = None
    for event in events:
        target = event.mutate(target)
        yield event, target


def plain_replay(steps: Iterable[tuple[Any, Target]]) -> bytes:
    items = []
    before: dict[str, Any] | None = None
    for event, after in steps:
        state = presenters.target(after)
        changes = {
            field: [None if before is None else before[field], value]
            for field, value in state.items()
            if before is None or before[field] != value
        }
        rule = None
        if type(event).__name__ == "DialFinished":
            decision = after.decision_of(event.dial_id)
            if decision is not None:
                rule = {**decision.rule.as_dict(), "said": decision.describe()}
        items.append(
            {"event": plain_event(event), "state": state, "changes": changes, "rule": rule}
        )
        before = state
    return orjson.dumps({"result": items})


def replayed(events: list[Any]) -> bytes:
    return orjson.dumps(presenters.results(presenters.replay(replay_steps(events))))


def listed(events: list[Any]) -> bytes:
    return orjson.dumps(presenters.results(presenters.events(event_record(e) for e in events)))


def plain_list(events: list[Any]) -> bytes:
    return orjson.dumps({"result": [plain_event(e) for e in events]})


# -- histories -------------------------------------------------------------------------


def every_kind_of_step(service: OutdialService, clock: FakeClock) -> list[Any]:
    """A target's stored events: a retry by its rule, a manual start with a reference, a
    timeout and its late finish closing a destination, a finish with no rule, a success,
    then deleted; with a calling window (time zones) and actors."""
    customer = uuid4()
    outdial = service.create_outdial(customer, name="exact").value
    plan = {"max_try_count_0": 3, "max_try_count_1": 3, "dial_timeout": 30_000}
    service.change_outdial_plan(customer, outdial.id, {**plan, "retry_rules": RULES})
    service.change_calling_window(customer, outdial.id, CallingWindow.parse(EVERY_DAY))
    new = new_target("+821100000001", "+821100000002", None, "+821100000004", name="Ann")
    (target,) = service.create_targets(customer, outdial.id, [new], actor="kid_a").value
    path = (customer, outdial.id, target.id)

    def dial(result: str, reason: str, **start: Any) -> UUID:
        clock.advance(seconds=700)
        started = service.start_dial(*path, **start).value
        clock.advance(seconds=5)
        service.finish_dial(*path, started.id, result=result, reason=reason, actor="kid_b")
        return started.id

    dial("fail", "busy", manual=False, actor="system:dispatch")
    clock.advance(seconds=700)
    timed_out = service.start_dial(*path, destination_index=0, reference_id="call-2").value
    clock.advance(seconds=31)
    service.time_out_dial(target.id, timed_out.id)
    clock.advance(seconds=9)
    service.finish_dial(*path, timed_out.id, result="fail", reason="invalid_number")
    dial("fail", "no_answer")
    dial("success", "")
    clock.advance(seconds=1)
    service.delete_target(*path, actor="kid_c")
    return target_events(service, *path)


def test_a_replay_of_every_kind_of_step_is_the_plain_ones_bytes(
    service: OutdialService, clock: FakeClock
) -> None:
    events = every_kind_of_step(service, clock)
    assert [type(e).__name__ for e in events].count("DialFinished") == 5
    plain = plain_replay(plain_steps(events))
    assert replayed(events) == plain
    assert listed(events) == plain_list(events)
    rules = [step["rule"] for step in orjson.loads(plain)["result"]]
    assert sum(rule is not None for rule in rules) == 3  # busy, timeout, invalid_number


def test_a_long_replay_is_the_plain_ones_bytes(service: OutdialService, clock: FakeClock) -> None:
    """As the benchmark's target: many dials over every destination, each finished
    twice (the second a no-op), a target finished by a rule, then deleted."""
    customer = uuid4()
    outdial = service.create_outdial(customer).value
    plan = {f"max_try_count_{n}": 100 for n in range(5)}
    service.change_outdial_plan(customer, outdial.id, {**plan, "retry_rules": RULES[3:]})
    numbers = [f"+8211000000{n:02d}" for n in range(5)]
    (target,) = service.create_targets(customer, outdial.id, [new_target(*numbers)]).value
    path = (customer, outdial.id, target.id)
    for n in range(60):
        clock.advance(seconds=1)
        dial = service.start_dial(*path, destination_index=n % 5).value
        clock.advance(seconds=1)
        reason = "hung_up" if n == 59 else "busy"
        for _ in range(2):
            service.finish_dial(*path, dial.id, result="fail", reason=reason)
    service.delete_target(*path)
    events = target_events(service, *path)
    assert len(events) == 122
    assert replayed(events) == plain_replay(plain_steps(events))
    assert listed(events) == plain_list(events)
    assert orjson.loads(replayed(events))["result"][-2]["state"]["status"] == "done"


def test_events_stored_before_a_field_existed_show_its_default_last(
    service: OutdialService, clock: FakeClock
) -> None:
    events = every_kind_of_step(service, clock)
    for event in events:
        for name in ("actor", "manual", "time_zones", "late"):
            vars(event).pop(name, None)
    assert replayed(events) == plain_replay(plain_steps(events))
    assert listed(events) == plain_list(events)
    started = orjson.loads(listed(events))["result"][1]["data"]
    assert list(started)[-3:] == ["actor", "manual", "time_zones"]


def edited(steps: Iterable[tuple[Any, Target]], edits: dict[int, Edit]) -> Iterator[Any]:
    """The steps, with each target changed after the step of that index (as no event
    does), before anyone reads it."""
    for n, (record, target) in enumerate(steps):
        if n in edits:
            edits[n](target)
        yield record, target


def rename(target: Target) -> None:
    target.name = "Renamed"
    target.outdial_id = ELSEWHERE


def redirect(target: Target) -> None:
    target.destinations[1] = tel("+821100000099")  # in place: the same list


def retime(target: Target) -> None:
    target.modified_on = target.modified_on + timedelta(seconds=1)


def mark_deleted(target: Target) -> None:
    target.deleted_at = START


def same_time_again(target: Target) -> None:
    target.modified_on = target.modified_on + timedelta(0)  # equal, not the same object


@pytest.mark.parametrize(
    "edits",
    [
        {2: rename},
        {3: redirect},
        {1: retime, 4: same_time_again},
        {2: mark_deleted, 5: rename},
        {0: redirect, 1: rename, 2: retime, 3: mark_deleted, 4: redirect},
    ],
    ids=["name", "destination-in-place", "times", "deleted", "all"],
)
def test_a_state_is_whole_whatever_an_event_changed_of_the_target(
    service: OutdialService, clock: FakeClock, edits: dict[int, Edit]
) -> None:
    """A target's own values (ids, name, destinations...) that change between steps, a
    time not the event's own and a deletion time without a Deleted event: each state is
    still the target after its event, field by field."""
    events = every_kind_of_step(service, clock)
    ours = orjson.dumps(presenters.results(presenters.replay(edited(replay_steps(events), edits))))
    assert ours == plain_replay(edited(plain_steps(events), edits))


def test_outdial_and_do_not_call_events_are_the_plain_ones_bytes(
    service: OutdialService, clock: FakeClock
) -> None:
    customer = uuid4()
    outdial = service.create_outdial(customer, name="o", data='{"a": 1}', actor="kid_a").value
    service.change_outdial_plan(customer, outdial.id, {"retry_rules": RULES})
    service.change_calling_window(customer, outdial.id, CallingWindow.parse(EVERY_DAY))
    clock.advance(seconds=1)
    service.pause_outdial(customer, outdial.id, reason="lunch", actor="kid_b")
    expires = START + timedelta(days=3)
    new = NewEntry("+821100000001", outdial_id=outdial.id, reason="asked", expires_at=expires)
    (entry,) = service.add_do_not_call(customer, [new], actor="kid_c").value
    clock.advance(seconds=1)
    service.remove_do_not_call(customer, entry.id)
    for events in (
        outdial_events(service, customer, outdial.id),
        do_not_call_events(service, customer, entry.id),
    ):
        assert len(events) >= 2
        assert listed(events) == plain_list(events)
