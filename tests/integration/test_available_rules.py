"""Property: the read model's ``available`` (projections/available.py, in SQL) answers what
the domain's ``Target.availability`` answers, with every contact rule of SPEC §10 in play: a
paused outdial, calling windows judged in numbers' zones (one zone, many zones, none) or the
window's own, and do-not-call entries exact and by prefix, for every outdial or one,
expired, removed and added again; on both stores."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from adapters.event_log import StoredEventLog
from adapters.stores import Storage
from application.errors import REFUSALS
from application.service import NewEntry, NewTarget, OutdialService
from domain.address import Address
from domain.calling_window import CallingWindow, number_time_zones
from domain.do_not_call import EVERY_OUTDIAL
from domain.plan import DEFAULT_PLAN, Plan
from projections.available import Window
from projections.queries import ReadModelQueries
from projections.rebuild import catch_up
from projections.store import ReadModelView
from tests.conftest import FakeClock, examples

# Numbers of one zone, of dozens (a US toll-free number), of none, numbers that share
# prefixes, and addresses that are no number (one shaped like a number's prefix).
ADDRESSES = [
    Address("tel", "+821100000001"),  # Asia/Seoul
    Address("tel", "+821100000002"),
    Address("whatsapp", "+12125550100"),  # America/New_York
    Address("tel", "+12125550199"),
    Address("tel", "+14155550100"),  # America/Los_Angeles
    Address("tel", "+18005550100"),  # 42 zones from Adak to the Caribbean
    Address("tel", "+447700900123"),  # Europe/London
    Address("tel", "+999123456789"),  # E.164-shaped, in no zone
    Address("sip", "ops@example.com"),
    Address("extension", "+1212ab"),  # starts like +1212, yet no number
]
ENTRY_TARGETS = [
    ("+821100000001", "exact"),
    ("+12125550100", "exact"),
    ("+18005550100", "exact"),
    ("ops@example.com", "exact"),
    ("+1212", "prefix"),
    ("+1800", "prefix"),
    ("+8211", "prefix"),
    ("+82110000000", "prefix"),
    ("+447700900123", "prefix"),  # a prefix as long as the number
    ("+999", "prefix"),
]
ZONES = ["Asia/Seoul", "America/New_York", "Europe/London", "UTC", "Pacific/Honolulu"]

hours = st.builds(
    lambda days, start, length: {
        "days": days,
        "start": f"{start:02d}:00",
        "end": f"{min(start + length, 24):02d}:00",
    },
    st.lists(st.integers(1, 7), min_size=1, max_size=7, unique=True),
    st.integers(0, 23),
    st.integers(1, 24),
)
windows = st.builds(
    lambda zone, hours, everywhere, closed, use_number, stop: {
        "time_zone": zone,
        "hours": [{"days": list(range(1, 8)), "start": "00:00", "end": "24:00"}]
        if everywhere
        else hours,
        "closed_dates": closed,
        "use_number_time_zone": use_number,
        "stop_before_end_seconds": stop,
    },
    st.sampled_from(ZONES),
    st.lists(hours, min_size=1, max_size=3),
    st.booleans(),
    st.lists(st.sampled_from(["2026-01-01", "2026-01-02", "2026-01-03"]), max_size=2),
    st.booleans(),
    st.sampled_from([0, 60, 3_600]),
)
targets = st.lists(
    st.one_of(
        st.lists(st.none() | st.sampled_from(ADDRESSES), min_size=5, max_size=5).map(
            lambda slots: slots if any(slots) else [ADDRESSES[0], *slots[1:]]
        ),
        st.sampled_from(ADDRESSES).map(lambda first: [first, None, None, None, None]),
    ),
    min_size=1,
    max_size=6,
)
plans = st.builds(
    lambda tries, interval: DEFAULT_PLAN.with_changes(
        {**{f"max_try_count_{n}": t for n, t in enumerate(tries)}, "try_interval": interval}
    ),
    st.lists(st.integers(0, 2), min_size=5, max_size=5),
    st.sampled_from([0, 60_000]),
)
entries = st.lists(
    st.tuples(
        st.sampled_from(ENTRY_TARGETS),
        st.sampled_from(["every", "this", "another"]),
        st.sampled_from(["live", "expires", "removed", "again"]),
    ),
    max_size=6,
)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@example(  # an extension shaped like a number's prefix is no number: no prefix blocks it,
    # even when another destination of its target is a number that one does
    destinations=[
        [Address("extension", "+1212ab"), None, None, None, Address("whatsapp", "+12125550100")]
    ],
    plan=DEFAULT_PLAN.with_changes({"max_try_count_4": 0}),
    dialed=[],
    window=None,
    listed=[(("+1212", "prefix"), "every", "live")],
    paused=False,
    later=0,
)
@given(
    destinations=targets,
    plan=plans,
    dialed=st.lists(st.integers(0, 5), max_size=4),
    window=st.none() | windows,
    listed=entries,
    paused=st.booleans(),
    later=st.integers(0, 7 * 24 * 60),
)
def test_available_answers_as_the_domain_judges(
    storage: Storage,
    stored_service: OutdialService,
    events: StoredEventLog,
    view: ReadModelView,
    clock: FakeClock,
    destinations: list[list[Address | None]],
    plan: Plan,
    dialed: list[int],
    window: dict[str, Any] | None,
    listed: list[tuple[tuple[str, str], str, str]],
    paused: bool,
    later: int,
) -> None:
    service = stored_service
    customer = uuid4()  # each example a customer of its own: its own list
    outdial = service.create_outdial(customer).value.id
    another = service.create_outdial(customer).value.id
    service.change_outdial_plan(customer, outdial, plan.as_dict())
    made = service.create_targets(customer, outdial, [NewTarget(d) for d in destinations]).value
    ids = [t.id for t in made]
    for pick in dialed:  # some tries used, some try_intervals running
        target = ids[pick % len(ids)]
        with suppress(*REFUSALS):
            dial = service.start_dial(customer, outdial, target).value
            service.finish_dial(customer, outdial, target, dial.id, result="fail", reason="busy")
    scopes = {"every": EVERY_OUTDIAL, "this": outdial, "another": another}
    for (target_text, match), scope, fate in listed:
        expires = clock.now + timedelta(minutes=later // 2 + 1)  # past by then, or not
        new = NewEntry(
            target_text,
            match=match,
            outdial_id=scopes[scope],
            reason=fate,
            expires_at=expires if fate == "expires" else None,
            keep_expiry=fate != "expires",
        )
        [entry] = service.add_do_not_call(customer, [new]).value
        if fate in ("removed", "again"):
            service.remove_do_not_call(customer, entry.id)
        if fate == "again":
            service.add_do_not_call(customer, [new])
    if window is not None:
        service.change_calling_window(customer, outdial, CallingWindow.parse(window))
    if paused:
        service.pause_outdial(customer, outdial)
    clock.advance(minutes=later)
    catch_up(events, view)
    queries = ReadModelQueries(view)
    rows = queries.available_targets(customer, outdial, plan=plan, now=clock.now, limit=100)
    judged = {
        target: service.availability(customer, outdial, target, plan_changes=plan.as_dict())[0]
        for target in ids
    }
    expected = {str(t) for t, a in judged.items() if a.available}
    if window is not None:  # one walk over the targets, or one per open zone key
        members = view.query(
            "SELECT zones, first FROM outdial_zone_sets WHERE outdial_id = :o", {"o": str(outdial)}
        )
        keys = [(row["zones"], row["first"] == 1) for row in members]
        judged_window = Window.judged(CallingWindow.parse(window), keys, clock.now)
        if judged_window is None:
            event("closed for every destination")
        else:
            event("walks per zone key" if judged_window.walks is not None else "one walk")
    for availability in judged.values():  # what the examples reached (--hypothesis-show-statistics)
        event(" ".join(sorted({b.rule for b in availability.blocked_by})) or "available")
    assert {row["id"] for row in rows} == expected, _explain(judged, window, clock)
    assert [row["tm_update"] for row in rows] == sorted(row["tm_update"] for row in rows)
    for _ in range(2):  # dispatch's candidates: the same, from where they ended last
        candidates = queries.available_target_ids(
            customer, outdial, plan=plan, now=clock.now, limit=100
        )
        assert sorted(candidates) == sorted(UUID(row["id"]) for row in rows)


def _explain(judged: dict[UUID, Any], window: dict[str, Any] | None, clock: FakeClock) -> str:
    lines = [f"at {clock.now.isoformat()}, window {window}"]
    for target, availability in judged.items():
        rules = [b.rule for b in availability.blocked_by]
        lines.append(f"{target}: {rules or 'available'} via {availability.next_destination}")
    return "\n".join(lines)


def test_the_numbers_used_map_to_the_zones_the_property_relies_on() -> None:
    assert number_time_zones("+821100000001") == ("Asia/Seoul",)
    assert number_time_zones("+12125550100") == ("America/New_York",)
    assert len(number_time_zones("+18005550100")) > 10
    assert number_time_zones("+999123456789") == ()
