"""The contact rules of SPEC §10 in the domain and the service: pause, calling windows judged
in the callee's time zones, and the do-not-call list, all through one availability."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.history import stored_events
from application.service import NewEntry, OutdialService
from domain.address import Address
from domain.calling_window import CallingWindow, e164_number, number_time_zones
from domain.do_not_call import (
    EVERY_OUTDIAL,
    DoNotCall,
    DoNotCallEntry,
    Rule,
    candidate_entry_ids,
    checked_entry_target,
    entry_id,
)
from domain.errors import InvalidValue, OutdialDeleted, TargetNotDialable
from domain.outdial import Outdial
from domain.plan import DEFAULT_PLAN
from domain.target import Target
from projections import targets
from tests.conftest import FakeClock, new_target, tel

# 2026-01-05 is a Monday. New York is UTC-5 in January, Seoul UTC+9.
MONDAY = datetime(2026, 1, 5, tzinfo=UTC)
NEW_YORK = "+12125551234"
SEOUL = "+821100000001"
TOLL_FREE = "+18005551234"  # maps to dozens of zones


def utc(day_hours: float) -> datetime:
    """Hours after Monday 00:00 UTC."""
    return MONDAY + timedelta(hours=day_hours)


def window(**changes: Any) -> CallingWindow:
    raw: dict[str, Any] = {
        "time_zone": "America/New_York",
        "hours": [{"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "20:00"}],
    }
    raw.update(changes)
    return CallingWindow.parse(raw)


def target(*numbers: str, at: datetime = MONDAY - timedelta(days=1)) -> Target:
    slots: list[Address | None] = [tel(n) for n in numbers]
    slots += [None] * (5 - len(slots))
    return Target.create(
        target_id=uuid4(), outdial_id=uuid4(), customer_id=uuid4(), destinations=slots, at=at
    )


def rule(
    of: Target, text: str, match: str = "exact", **changes: Any
) -> Rule:  # an entry for the target's customer
    values: dict[str, Any] = {
        "id": entry_id(of.customer_id, text, match, EVERY_OUTDIAL),
        "target": text,
        "match": match,
        "outdial_id": EVERY_OUTDIAL,
        "expires_at": None,
        "removed": False,
    }
    values.update(changes)
    return Rule(**values)


# -- the calling window's own rules ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "calling_window.time_zone"),
        ({"time_zone": None}, "calling_window.time_zone"),
        ({"hours": []}, "calling_window.hours"),
        ({"hours": [{"days": [1], "start": "09:00", "end": "10:00"}] * 29}, "calling_window.hours"),
        (
            {"hours": [{"days": [0], "start": "09:00", "end": "10:00"}]},
            "calling_window.hours[0].days",
        ),
        (
            {"hours": [{"days": [8], "start": "09:00", "end": "10:00"}]},
            "calling_window.hours[0].days",
        ),
        (
            {"hours": [{"days": [], "start": "09:00", "end": "10:00"}]},
            "calling_window.hours[0].days",
        ),
        (
            {"hours": [{"days": [1], "start": "9:00", "end": "10:00"}]},
            "calling_window.hours[0].start",
        ),
        (
            {"hours": [{"days": [1], "start": "09:00", "end": "24:01"}]},
            "calling_window.hours[0].end",
        ),
        (
            {"hours": [{"days": [1], "start": "10:00", "end": "10:00"}]},
            "calling_window.hours[0].end",
        ),
        (
            {"hours": [{"days": [1], "start": "22:00", "end": "02:00"}]},
            "calling_window.hours[0].end",
        ),
        (
            {"hours": [{"days": [1], "start": "09:00", "end": "10:00", "x": 1}]},
            "calling_window.hours[0].x",
        ),
        ({"closed_dates": ["2026-02-30"]}, "calling_window.closed_dates[0]"),
        ({"closed_dates": ["2026-12-25\n"]}, "calling_window.closed_dates[0]"),
        ({"closed_dates": ["2026-01-01"] * 367}, "calling_window.closed_dates"),
        ({"use_number_time_zone": "yes"}, "calling_window.use_number_time_zone"),
        ({"stop_before_end_seconds": 3601}, "calling_window.stop_before_end_seconds"),
        ({"stop_before_end_seconds": -1}, "calling_window.stop_before_end_seconds"),
        ({"stop_before_end_seconds": True}, "calling_window.stop_before_end_seconds"),
        ({"opens": "now"}, "calling_window.opens"),
    ],
)
def test_a_window_that_breaks_a_rule_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        window(**changes)
    assert refused.value.field == field


def test_a_window_reads_back_as_it_was_given() -> None:
    given = window(
        hours=[{"days": [6, 1, 1], "start": "00:00", "end": "24:00"}],
        closed_dates=["2026-12-25", "2026-01-01"],
        use_number_time_zone=False,
        stop_before_end_seconds=60,
    )
    assert given.as_dict() == {
        "time_zone": "America/New_York",
        "hours": [{"days": [1, 6], "start": "00:00", "end": "24:00"}],
        "closed_dates": ["2026-01-01", "2026-12-25"],
        "use_number_time_zone": False,
        "stop_before_end_seconds": 60,
    }
    assert CallingWindow.parse(given.as_dict()) == given


def test_a_number_is_judged_in_its_own_zones_unless_the_window_says_otherwise() -> None:
    w = window()
    assert w.zones_of(tel(SEOUL)) == ("Asia/Seoul",)
    assert w.zones_of(Address("whatsapp", NEW_YORK)) == ("America/New_York",)
    assert len(w.zones_of(tel(TOLL_FREE))) > 10
    assert w.zones_of(Address("sip", "agent@example.com")) == ("America/New_York",)
    assert w.zones_of(tel("+99912345")) == ("America/New_York",)  # no such country
    assert window(use_number_time_zone=False).zones_of(tel(SEOUL)) == ("America/New_York",)
    assert number_time_zones("not a number") == ()


def test_zone_keys_worked_out_elsewhere_are_the_projections_own_and_each_is_taken_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(targets, "_GIVEN_ZONE_KEYS", {})
    monkeypatch.setattr(targets, "GIVEN_ZONE_KEYS_MAX", 3)
    created = Target.create(
        target_id=uuid4(),
        outdial_id=uuid4(),
        customer_id=uuid4(),
        destinations=[tel(SEOUL), Address("sip", "a@example.com"), None, tel(TOLL_FREE), None],
        at=datetime(2026, 1, 1, tzinfo=UTC),
    ).collect_events()
    assert targets.zone_keys_of(created) == {
        SEOUL: "Asia/Seoul",
        TOLL_FREE: targets.zones_of(tel(TOLL_FREE)),
    }
    targets.given_zone_keys({SEOUL: "Europe/Lisbon"})  # not its zone: shows which is used
    assert targets.zones_of(tel(SEOUL)) == "Europe/Lisbon"
    assert targets.zones_of(tel(SEOUL)) == "Asia/Seoul"  # taken: worked out again
    targets.given_zone_keys({NEW_YORK: "Europe/Lisbon"})
    targets.given_zone_keys({"+1": "", "+2": "", "+3": ""})  # past the bound: the rest dropped
    assert targets.zones_of(tel(NEW_YORK)) == "America/New_York"


def _library_parse(number: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return None


# E.164 strings the zone lookup is asked about: a known calling code (or any three digits),
# then digits heavy in 0, 1 and 2, the national prefixes some countries strip.
_CODES = st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)).map(str)
_E164_STRINGS = (
    st.tuples(
        st.one_of(_CODES, st.integers(0, 999).map(str)),
        st.text(st.sampled_from("00011122233456789"), max_size=14),
    )
    .map(lambda parts: "+" + parts[0] + parts[1])
    .filter(lambda n: 8 <= len(n) <= 16)
)


@settings(max_examples=3_000)
@given(_E164_STRINGS)
def test_a_number_is_read_as_the_library_parses_it(number: str) -> None:
    assert e164_number(number) == _library_parse(number)


@pytest.mark.parametrize(
    "number",
    [
        "+390612345678",  # Italy: the leading zero is the number's own
        "+3900012345",  # more than one leading zero
        "+44020712345678",  # the UK strips its national prefix 0
        "+5491112345678",  # Argentina transforms its national prefix
        "+0123456789",  # no calling code starts with 0
        "+99912345678",  # no such calling code
        "+8800000000",  # 880 and 88: the first known code is the one
        "+10000000",  # all zeros: the last is not a leading zero
    ],
)
def test_the_numbers_the_fast_read_leaves_to_the_library_read_alike(number: str) -> None:
    assert e164_number(number) == _library_parse(number)


def test_the_window_is_open_from_start_until_end_less_the_early_stop() -> None:
    w = window(stop_before_end_seconds=60)
    zones = ("America/New_York",)
    assert not w.is_open(zones, utc(14) - timedelta(microseconds=1))  # 08:59:59.999999
    assert w.is_open(zones, utc(14))  # Monday 09:00 in New York
    assert w.is_open(zones, utc(24 + 59 / 60) - timedelta(microseconds=1))  # 19:58:59.999
    assert not w.is_open(zones, utc(24 + 59 / 60))  # 19:59: a minute before the end
    assert not w.is_open(zones, utc(5 * 24 + 16))  # Saturday 11:00


def test_a_closed_date_is_closed_all_day_in_the_local_calendar() -> None:
    w = window(closed_dates=["2026-01-05"])
    assert not w.is_open(("America/New_York",), utc(16))
    # Tuesday 00:30 UTC is still Monday 19:30 in New York: closed there.
    assert not w.is_open(("America/New_York",), utc(24.5))
    assert w.is_open(("America/New_York",), utc(24 + 14))


def test_a_number_of_many_zones_is_dialed_only_while_every_one_is_open() -> None:
    w = window()
    zones = w.zones_of(tel(TOLL_FREE))
    # 15:00 UTC: 10:00 in New York but 05:00 in Honolulu.
    assert w.is_open(("America/New_York",), utc(15))
    assert not w.is_open(zones, utc(15))
    opens = w.next_open(zones, utc(15))
    assert opens is not None
    assert w.is_open(zones, opens)
    assert not w.is_open(zones, opens - timedelta(microseconds=1))


def test_next_open_finds_the_next_start_or_none_within_eight_days() -> None:
    w = window()
    zones = ("America/New_York",)
    assert w.next_open(zones, utc(16)) == utc(16)  # open now
    assert w.next_open(zones, utc(2)) == utc(14)  # Sunday 21:00 local → Monday 09:00
    friday_night = utc(4 * 24 + 23)  # Friday 18:00 local: open until 20:00
    assert w.next_open(zones, friday_night) == friday_night
    saturday = utc(5 * 24 + 14)
    assert w.next_open(zones, saturday) == utc(7 * 24 + 14)  # Monday 09:00 local
    only_mondays = window(
        hours=[{"days": [1], "start": "09:00", "end": "10:00"}],
        closed_dates=["2026-01-12", "2026-01-19"],
    )
    assert only_mondays.next_open(zones, utc(16)) is None


def test_next_open_follows_the_change_to_summer_time() -> None:
    w = window(hours=[{"days": [7], "start": "09:00", "end": "10:00"}])
    # 2026-03-08 is a Sunday and New York moves to UTC-4 that night.
    after = datetime(2026, 3, 7, tzinfo=UTC)
    assert w.next_open(("America/New_York",), after) == datetime(2026, 3, 8, 13, tzinfo=UTC)


# -- the do-not-call list ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("+1", "prefix"),
        ("+12", "prefix"),
        ("1212", "prefix"),
        ("+1212 ", "prefix"),
        ("+12a", "exact"),
        ("", "exact"),
        ("agent @example.com", "exact"),
        ("a\nb", "exact"),
        ("+1212", "starts"),
        ("x" * 256, "exact"),
    ],
)
def test_an_entry_target_that_breaks_the_rules_is_refused(text: str, match: str) -> None:
    with pytest.raises(InvalidValue):
        checked_entry_target(text, match)


@pytest.mark.parametrize(
    ("text", "match"),
    [("+1212", "prefix"), (NEW_YORK, "exact"), ("agent@example.com", "exact"), ("a@b.io", "exact")],
)
def test_entry_targets_of_every_kind_are_taken(text: str, match: str) -> None:
    assert checked_entry_target(text, match) == text


def test_the_entries_that_could_block_a_number_are_known_in_advance() -> None:
    customer, outdial = uuid4(), uuid4()
    candidates = candidate_entry_ids(customer, outdial, NEW_YORK)
    for text, match, scope in [
        (NEW_YORK, "exact", EVERY_OUTDIAL),
        (NEW_YORK, "exact", outdial),
        ("+1212", "prefix", EVERY_OUTDIAL),
        ("+121255", "prefix", outdial),
        (NEW_YORK, "prefix", EVERY_OUTDIAL),
    ]:
        assert entry_id(customer, text, match, scope) in candidates
    assert entry_id(customer, "+121", "prefix", EVERY_OUTDIAL) in candidates
    assert entry_id(uuid4(), NEW_YORK, "exact", EVERY_OUTDIAL) not in candidates
    assert len(candidate_entry_ids(customer, outdial, "a@b.io")) == 2


def test_an_entry_blocks_while_live_unexpired_and_in_scope() -> None:
    t = target(NEW_YORK)
    now = utc(16)
    assert rule(t, "+1212", "prefix").blocks(NEW_YORK, t.outdial_id, now)
    assert not rule(t, "+1213", "prefix").blocks(NEW_YORK, t.outdial_id, now)
    assert not rule(t, "+1212", "exact").blocks(NEW_YORK, t.outdial_id, now)
    assert not rule(t, NEW_YORK, removed=True).blocks(NEW_YORK, t.outdial_id, now)
    assert not rule(t, NEW_YORK, expires_at=now).blocks(NEW_YORK, t.outdial_id, now)
    assert rule(t, NEW_YORK, expires_at=now + timedelta(seconds=1)).blocks(
        NEW_YORK, t.outdial_id, now
    )
    assert rule(t, NEW_YORK, outdial_id=t.outdial_id).blocks(NEW_YORK, t.outdial_id, now)
    assert not rule(t, NEW_YORK, outdial_id=uuid4()).blocks(NEW_YORK, t.outdial_id, now)


def test_an_entry_added_again_changes_only_what_was_sent() -> None:
    now = utc(1)
    entry = DoNotCallEntry.add(
        customer_id=uuid4(),
        target=NEW_YORK,
        match="exact",
        outdial_id=EVERY_OUTDIAL,
        reason="asked",
        expires_at=None,
        at=now,
    )
    assert not entry.add_again(reason=None, expires_at=None, keep_expiry=True, at=now)
    assert not entry.add_again(reason="asked", expires_at=None, keep_expiry=False, at=now)
    later = now + timedelta(days=30)
    assert entry.add_again(reason=None, expires_at=later, keep_expiry=False, at=now)
    assert (entry.reason, entry.expires_at) == ("asked", later)
    assert entry.remove(at=now)
    assert not entry.remove(at=now)
    assert entry.add_again(reason=None, expires_at=None, keep_expiry=True, at=now)
    assert not entry.is_removed
    assert [type(e).__name__ for e in entry.collect_events()] == [
        "Added",
        "Changed",
        "Removed",
        "Changed",
    ]
    with pytest.raises(InvalidValue) as refused:
        entry.add_again(reason=None, expires_at=now, keep_expiry=False, at=now)
    assert refused.value.field == "expires_at"


# -- one judgement -----------------------------------------------------------------------


def test_a_blocked_destination_is_skipped_in_order() -> None:
    t = target(NEW_YORK, SEOUL)
    rules = DoNotCall((rule(t, "+1212", "prefix"),))
    judged = t.availability(DEFAULT_PLAN, utc(16), do_not_call=rules)
    assert judged.available
    assert judged.next_destination == 1
    dial = t.start_dial(dial_id=uuid4(), plan=DEFAULT_PLAN, at=utc(16), do_not_call=rules)
    assert dial.destination.target == SEOUL


def test_a_target_whose_every_eligible_destination_is_blocked_says_by_which_entries() -> None:
    t = target(NEW_YORK, SEOUL)
    blocking = (rule(t, NEW_YORK), rule(t, "+8211", "prefix"))
    judged = t.availability(DEFAULT_PLAN, utc(16), do_not_call=DoNotCall(blocking))
    assert [b.rule for b in judged.blocked_by] == ["ON_DO_NOT_CALL"]
    assert judged.blocked_by[0].entries == (blocking[0].id, blocking[1].id)
    assert judged.next_destination is None
    with pytest.raises(TargetNotDialable):
        t.start_dial(
            dial_id=uuid4(), plan=DEFAULT_PLAN, at=utc(16), do_not_call=DoNotCall(blocking)
        )


def test_an_explicit_start_on_a_blocked_destination_is_refused() -> None:
    t = target(NEW_YORK, SEOUL)
    rules = DoNotCall((rule(t, SEOUL),))
    with pytest.raises(TargetNotDialable):
        t.start_dial(
            dial_id=uuid4(), plan=DEFAULT_PLAN, at=utc(16), destination_index=1, do_not_call=rules
        )
    dial = t.start_dial(
        dial_id=uuid4(), plan=DEFAULT_PLAN, at=utc(16), destination_index=0, do_not_call=rules
    )
    assert dial.destination_index == 0


def test_a_closed_window_waits_and_says_when_it_opens() -> None:
    t = target(NEW_YORK, SEOUL)
    judged = t.availability(DEFAULT_PLAN, utc(2), window=window())  # Sunday 21:00 local
    assert [b.rule for b in judged.blocked_by] == ["OUTSIDE_CALLING_WINDOW"]
    assert "America/New_York Sun 2026-01-04 21:00" in judged.blocked_by[0].message
    assert judged.next_destination == 0  # a closed window waits: destinations stay in order
    assert judged.ready_at == utc(14)
    assert judged.time_zones == ("America/New_York",)


def test_ready_at_is_the_first_open_instant_after_the_try_interval() -> None:
    t = target(NEW_YORK)
    p = DEFAULT_PLAN.with_changes({"max_try_count_0": 3, "try_interval": 3_600_000})
    d = t.start_dial(dial_id=uuid4(), plan=p, at=utc(24 + 23.5), window=window())
    t.finish_dial(dial_id=d.id, result="fail", reason="busy", at=utc(24 + 23.75))
    # The try interval ends at 19:45 local, inside the window: it is then.
    judged = t.availability(p, utc(24 + 24), window=window())
    assert [b.rule for b in judged.blocked_by] == ["TRY_INTERVAL"]
    assert judged.ready_at == utc(24 + 24.75)
    stops_early = window(stop_before_end_seconds=1800)  # 19:30 local
    judged = t.availability(p, utc(24 + 24), window=stops_early)
    assert judged.ready_at == utc(2 * 24 + 14)  # Wednesday 09:00 local
    assert d.time_zones == ("America/New_York",)


def test_a_dial_without_a_window_records_no_zones() -> None:
    t = target(SEOUL)
    assert t.start_dial(dial_id=uuid4(), plan=DEFAULT_PLAN, at=utc(2)).time_zones == ()


def test_a_paused_outdial_is_named_first() -> None:
    outdial = Outdial.create(outdial_id=uuid4(), customer_id=uuid4(), at=utc(0))
    assert outdial.status == "running"
    assert outdial.pause(reason="complaint", at=utc(1))
    assert not outdial.pause(reason="again", at=utc(1))
    assert outdial.status == "paused"
    judged = target(NEW_YORK).availability(
        DEFAULT_PLAN, utc(2), outdial_blocking=outdial.blocking(), window=window()
    )
    assert [b.rule for b in judged.blocked_by] == ["OUTDIAL_PAUSED", "OUTSIDE_CALLING_WINDOW"]
    assert outdial.resume(at=utc(3))
    assert not outdial.resume(at=utc(3))
    assert outdial.blocking() == ()
    assert [type(e).__name__ for e in outdial.collect_events()] == [
        "Created",
        "Paused",
        "Resumed",
    ]


def test_an_outdial_window_changes_only_when_it_differs() -> None:
    outdial = Outdial.create(outdial_id=uuid4(), customer_id=uuid4(), at=utc(0))
    assert not outdial.change_calling_window(window=None, at=utc(1))
    assert outdial.change_calling_window(window=window(), at=utc(1))
    assert not outdial.change_calling_window(window=window(), at=utc(2))
    assert outdial.change_calling_window(window=None, at=utc(3))
    outdial.delete(at=utc(4))
    with pytest.raises(OutdialDeleted):
        outdial.pause(at=utc(5))
    with pytest.raises(OutdialDeleted):
        outdial.change_calling_window(window=window(), at=utc(5))


def test_a_pause_reason_follows_the_text_rule() -> None:
    outdial = Outdial.create(outdial_id=uuid4(), customer_id=uuid4(), at=utc(0))
    with pytest.raises(InvalidValue) as refused:
        outdial.pause(reason="a\x85b", at=utc(1))
    assert refused.value.field == "reason"
    with pytest.raises(InvalidValue):
        outdial.pause(reason="x" * 256, at=utc(1))


# -- the service: the list is read from the event store, inside each decision ------------


@pytest.fixture
def monday_clock(clock: FakeClock) -> FakeClock:
    clock.now = utc(16)  # Monday 11:00 in New York, 01:00 on Tuesday in Seoul
    return clock


def test_an_entry_blocks_the_next_start_and_its_removal_frees_it(
    service: OutdialService, customer: UUID, monday_clock: FakeClock
) -> None:
    outdial = service.create_outdial(customer).value
    t = service.create_target(customer, outdial.id, new_target(NEW_YORK)).value
    [entry] = service.add_do_not_call(customer, [NewEntry("+1212", "prefix")]).value
    judged, _ = service.availability(customer, outdial.id, t.id)
    assert [(b.rule, b.entries) for b in judged.blocked_by] == [("ON_DO_NOT_CALL", (entry.id,))]
    with pytest.raises(TargetNotDialable):
        service.start_dial(customer, outdial.id, t.id)
    service.remove_do_not_call(customer, entry.id)
    assert service.start_dial(customer, outdial.id, t.id).value.destination.target == NEW_YORK


def test_another_customers_entries_never_block(
    service: OutdialService, customer: UUID, monday_clock: FakeClock
) -> None:
    outdial = service.create_outdial(customer).value
    t = service.create_target(customer, outdial.id, new_target(NEW_YORK)).value
    service.add_do_not_call(uuid4(), [NewEntry(NEW_YORK)])
    assert service.availability(customer, outdial.id, t.id)[0].available


def test_an_entry_for_one_outdial_blocks_only_there(
    service: OutdialService, customer: UUID, monday_clock: FakeClock
) -> None:
    first = service.create_outdial(customer).value
    second = service.create_outdial(customer).value
    in_first = service.create_target(customer, first.id, new_target(NEW_YORK)).value
    in_second = service.create_target(customer, second.id, new_target(NEW_YORK)).value
    service.add_do_not_call(customer, [NewEntry(NEW_YORK, outdial_id=first.id)])
    assert not service.availability(customer, first.id, in_first.id)[0].available
    assert service.availability(customer, second.id, in_second.id)[0].available


def test_an_entry_stops_blocking_when_it_expires(
    service: OutdialService, customer: UUID, monday_clock: FakeClock
) -> None:
    outdial = service.create_outdial(customer).value
    t = service.create_target(customer, outdial.id, new_target(NEW_YORK)).value
    expiry = monday_clock.now + timedelta(hours=1)
    service.add_do_not_call(customer, [NewEntry(NEW_YORK, expires_at=expiry, keep_expiry=False)])
    assert not service.availability(customer, outdial.id, t.id)[0].available
    monday_clock.now = expiry
    assert service.availability(customer, outdial.id, t.id)[0].available


def test_a_batch_of_entries_is_all_or_nothing(
    service: OutdialService, customer: UUID, monday_clock: FakeClock
) -> None:
    with pytest.raises(InvalidValue) as refused:
        service.add_do_not_call(customer, [NewEntry(NEW_YORK), NewEntry("+1", "prefix")])
    assert refused.value.field == "entries[1].target"
    with pytest.raises(InvalidValue) as refused:
        service.add_do_not_call(customer, [NewEntry(NEW_YORK, outdial_id=uuid4())])
    assert refused.value.field == "entries[0].outdial_id"
    the_id = entry_id(customer, NEW_YORK, "exact", EVERY_OUTDIAL)
    with pytest.raises(Exception, match="not found"):
        service.get_do_not_call(customer, the_id)


def test_adding_an_entry_twice_answers_the_same_entry(
    service: OutdialService, customer: UUID, monday_clock: FakeClock
) -> None:
    [first] = service.add_do_not_call(customer, [NewEntry(NEW_YORK, reason="asked")]).value
    written = service.add_do_not_call(customer, [NewEntry(NEW_YORK), NewEntry(NEW_YORK)])
    assert [e.id for e in written.value] == [first.id, first.id]
    assert written.position is None  # nothing changed, nothing recorded
    assert service.get_do_not_call(customer, first.id).reason == "asked"
    with pytest.raises(Exception, match="not found"):
        service.get_do_not_call(uuid4(), first.id)


def test_dispatch_skips_blocked_and_closed_targets(
    service: OutdialService, customer: UUID, monday_clock: FakeClock
) -> None:
    outdial = service.create_outdial(customer).value
    service.change_calling_window(customer, outdial.id, window())
    blocked = service.create_target(customer, outdial.id, new_target(NEW_YORK)).value
    closed = service.create_target(customer, outdial.id, new_target(SEOUL)).value  # 01:00
    open_ = service.create_target(customer, outdial.id, new_target("+12125550000")).value
    service.add_do_not_call(customer, [NewEntry(NEW_YORK)])

    class AllIdle:
        """Candidates as a read model that knows nothing of the rules would give them."""

        def available_target_ids(self, *args: Any, **kwargs: Any) -> list[UUID]:
            return [blocked.id, closed.id, open_.id]

        def dials_with_ids(self, *args: Any, **kwargs: Any) -> list[tuple[UUID, UUID]]:
            return []

    started = service.dispatch(customer, outdial.id, limit=3, candidates=AllIdle()).value
    assert [(t, d.time_zones) for t, d in started] == [(open_.id, ("America/New_York",))]


def test_a_paused_outdial_dispatches_nothing_and_refuses_a_start(
    service: OutdialService, customer: UUID, monday_clock: FakeClock
) -> None:
    outdial = service.create_outdial(customer).value
    t = service.create_target(customer, outdial.id, new_target(NEW_YORK)).value
    service.pause_outdial(customer, outdial.id, reason="complaint")
    with pytest.raises(TargetNotDialable):
        service.start_dial(customer, outdial.id, t.id)
    # Targets can still be created and deleted while paused.
    other = service.create_target(customer, outdial.id, new_target(SEOUL)).value
    service.delete_target(customer, outdial.id, other.id)
    service.resume_outdial(customer, outdial.id)
    assert service.start_dial(customer, outdial.id, t.id).value.try_count == 1


def test_a_window_with_dates_round_trips_through_the_store(
    service: OutdialService, customer: UUID
) -> None:
    outdial = service.create_outdial(customer).value
    w = window(closed_dates=["2026-12-25"])
    service.change_calling_window(customer, outdial.id, w)
    changed = stored_events(service, outdial.id)[-1]  # decoded from its stored form
    assert isinstance(changed, Outdial.CallingWindowChanged)
    assert changed.window == w
    assert w.closed_dates == (date(2026, 12, 25),)
