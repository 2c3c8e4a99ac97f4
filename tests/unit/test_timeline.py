"""The timeline page's layout: every event and every dial attempt on one time axis."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from api.pages.timeline import PLOT_LEFT, PLOT_RIGHT, duration_text, lay_out
from application.history import EventRecord, event_record
from domain.plan import DEFAULT_PLAN
from domain.target import Target
from tests.conftest import START, tel

PLAN = DEFAULT_PLAN.with_changes({"max_try_count_0": 3, "try_interval": 0, "dial_timeout": 30_000})


def history(target: Target) -> list[EventRecord]:
    return [event_record(e) for e in target.collect_events()]


def new_target() -> Target:
    return Target.create(
        target_id=uuid4(),
        outdial_id=uuid4(),
        customer_id=uuid4(),
        destinations=[tel("+821100000001"), tel("+821100000002"), None, None, None],
        at=START,
        actor="kid_0123456789ab",
    )


def test_each_dial_is_a_bar_from_its_start_to_its_end_and_each_other_event_a_marker() -> None:
    target = new_target()
    first = target.start_dial(dial_id=uuid4(), plan=PLAN, at=START + timedelta(seconds=10))
    target.finish_dial(
        dial_id=first.id, result="fail", reason="busy", at=START + timedelta(seconds=40)
    )
    second = target.start_dial(dial_id=uuid4(), plan=PLAN, at=START + timedelta(seconds=60))
    target.finish_dial(
        dial_id=second.id, result="success", reason="answered", at=START + timedelta(seconds=70)
    )
    target.delete(at=START + timedelta(seconds=100))
    events = history(target)

    timeline = lay_out(events, target.dials, now=START + timedelta(hours=1))

    assert [row.kind for row in timeline.rows] == ["event", "fail", "success", "event"]
    created, busy, answered, deleted = timeline.rows
    assert created.title == "v1 Created"
    assert "by kid_0123456789ab" in created.detail
    assert busy.title == "v2\N{EN DASH}v3 dial tel:+821100000001 (destination 0, try 1)"
    assert busy.detail == "fail · busy · 30.0 s"
    assert answered.detail == "success · answered · 10.0 s"
    assert deleted.title == "v6 Deleted"
    # Every stored event is drawn exactly once, at its own time, left to right.
    markers = sorted((m for row in timeline.rows for m in row.markers), key=lambda m: m.version)
    assert [m.version for m in markers] == [e.version for e in events]
    assert [m.x for m in markers] == sorted(m.x for m in markers)
    assert all(PLOT_LEFT < m.x < PLOT_RIGHT for m in markers)
    # A bar spans its dial: 30 s of busy is three times the 10 s of the answered call.
    assert busy.bar_x is not None
    assert busy.bar_x == pytest.approx(busy.markers[0].x)
    assert busy.bar_x + busy.bar_width == pytest.approx(busy.markers[1].x)
    assert busy.bar_width == pytest.approx(3 * answered.bar_width)
    # Rows stack downwards without overlapping; the axis is ticked inside the plot.
    assert [row.y for row in timeline.rows] == sorted({row.y for row in timeline.rows})
    assert 2 <= len(timeline.ticks) <= 7
    assert all(PLOT_LEFT <= tick.x <= PLOT_RIGHT for tick in timeline.ticks)
    # Ticks fall on round times: every 30 s over these 100 s.
    assert [t.label for t in timeline.ticks[:2]] == ["09:00:00", "09:00:30"]


def test_a_dial_in_flight_runs_to_now_and_says_so() -> None:
    target = new_target()
    target.start_dial(dial_id=uuid4(), plan=PLAN, at=START + timedelta(seconds=1))
    events = history(target)

    timeline = lay_out(events, target.dials, now=START + timedelta(seconds=5, milliseconds=500))

    dial = timeline.rows[1]
    assert dial.kind == "progressing"
    assert dial.title.startswith("v2 dial")
    assert dial.detail == "progressing · 4.5 s so far"
    assert dial.bar_x is not None
    assert dial.bar_x + dial.bar_width == pytest.approx(
        PLOT_RIGHT - (PLOT_RIGHT - PLOT_LEFT) / 27, rel=1e-3
    )  # now is the end of the axis, less its margin


def test_a_finish_after_the_timeout_is_a_marker_of_its_own_past_the_bar() -> None:
    target = new_target()
    dial = target.start_dial(dial_id=uuid4(), plan=PLAN, at=START)
    target.time_out_dial(dial_id=dial.id, at=START + timedelta(seconds=31))
    target.finish_dial(
        dial_id=dial.id, result="success", reason="answered", at=START + timedelta(seconds=50)
    )
    events = history(target)

    row = lay_out(events, target.dials, now=START + timedelta(minutes=1)).rows[1]

    assert row.title.startswith("v2\N{EN DASH}v3 dial")
    assert "timed out" in row.detail
    assert "finished late" in row.detail
    assert [m.type for m in row.markers] == ["DialStarted", "DialFinished", "DialFinished"]
    assert row.markers[2].late
    assert row.bar_x is not None
    assert row.markers[2].x > row.bar_x + row.bar_width


def test_a_target_with_only_its_creation_has_one_row_and_an_axis() -> None:
    target = new_target()
    timeline = lay_out(history(target), target.dials, now=START + timedelta(days=3))
    assert [row.title for row in timeline.rows] == ["v1 Created"]
    assert timeline.ticks


@pytest.mark.parametrize(
    ("took", "said"),
    [
        (timedelta(milliseconds=850), "850 ms"),
        (timedelta(seconds=12.34), "12.3 s"),
        (timedelta(minutes=4, seconds=5), "4 min 05 s"),
        (timedelta(hours=2, minutes=10), "2 h 10 min"),
    ],
)
def test_durations_read_as_people_say_them(took: timedelta, said: str) -> None:
    assert duration_text(took) == said
