"""Pause and calling windows over HTTP: what only the wire shows (status codes, the fields
a 400 names, the outdial and dial objects, the reasons a dialer programs against, the
outdial's events). The rules themselves are tested where they live
(tests/unit/test_contact_rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import (
    TEL_0,
    TEL_1,
    WIRE_TIME,
    create_outdial,
    create_target,
    dispatch,
    error_of,
    ok,
    targets_path,
)

pytestmark = pytest.mark.shared_app

ALWAYS = [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "24:00"}]
OUTDIAL_FIELDS = [
    "id",
    "customer_id",
    "campaign_id",
    "name",
    "detail",
    "data",
    "plan",
    "status",
    "calling_window",
    "tm_create",
    "tm_update",
    "tm_delete",
]


def outdial_path(outdial_id: str, tail: str = "") -> str:
    return f"/v1.0/outdials/{outdial_id}{tail}"


def closed_around_today() -> dict[str, Any]:
    """A window shut on the UTC dates around now, so that it is closed whenever the test
    runs (even across a midnight), and open from the day after tomorrow."""
    today = datetime.now(UTC).date()
    days = [today + timedelta(days=n) for n in (-1, 0, 1)]
    return {
        "time_zone": "UTC",
        "hours": ALWAYS,
        "closed_dates": [d.isoformat() for d in days],
        "use_number_time_zone": False,
    }


def events_of(client: TestClient, outdial_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = ok(client.get(outdial_path(outdial_id, "/events")))["result"]
    return events


def test_a_paused_outdial_dials_nothing_until_resumed_and_its_events_say_who_and_why(
    client: TestClient,
) -> None:
    outdial = create_outdial(client, name="spring")
    assert list(outdial) == OUTDIAL_FIELDS
    assert (outdial["status"], outdial["calling_window"]) == ("running", None)
    path = outdial_path(outdial["id"])
    target = create_target(client, outdial["id"], TEL_0)

    paused = ok(client.post(path + "/pause", json={"reason": "complaint from a callee"}))
    assert paused["status"] == "paused"
    assert paused == ok(client.get(path))
    assert paused in ok(client.get("/v1.0/outdials"))["result"]
    again = ok(client.post(path + "/pause", json={"reason": "again"}))
    assert again == paused  # recorded nothing, so tm_update stands

    assert ok(client.get(path + "/available"))["result"] == []
    assert ok(dispatch(client, outdial["id"], limit=5))["result"] == []
    refused = error_of(client.post(targets_path(outdial["id"], target["id"]) + "/dials"), 409)
    assert (refused["status"], refused["reason"]) == ("FAILED_PRECONDITION", "OUTDIAL_PAUSED")
    judged = ok(client.get(targets_path(outdial["id"], target["id"]) + "/availability"))
    assert [b["rule"] for b in judged["blocked_by"]] == ["OUTDIAL_PAUSED"]
    create_target(client, outdial["id"], TEL_1)  # targets still join a paused outdial

    resumed = ok(client.post(path + "/resume"))
    assert resumed["status"] == "running"
    assert ok(client.post(path + "/resume")) == resumed
    assert ok(client.post(targets_path(outdial["id"], target["id"]) + "/dials"))["try_count"] == 1

    events = events_of(client, outdial["id"])
    assert [(e["version"], e["type"]) for e in events] == [
        (1, "Created"),
        (2, "Paused"),
        (3, "Resumed"),
    ]
    assert all(list(e) == ["version", "type", "timestamp", "data"] for e in events)
    assert events[1]["data"] == {"reason": "complaint from a callee", "actor": paused_actor(events)}
    assert events[1]["timestamp"] == paused["tm_update"]
    assert events[2]["timestamp"] == resumed["tm_update"]


def paused_actor(events: list[dict[str, Any]]) -> str:
    actor: str = events[0]["data"]["actor"]
    assert actor.startswith("kid_")
    return actor


@SQLITE_ONLY
def test_a_pause_needs_no_body_and_its_reason_follows_the_text_rules(client: TestClient) -> None:
    outdial = create_outdial(client)["id"]
    path = outdial_path(outdial, "/pause")
    for body, field in [
        ({"reason": "x" * 256}, "reason"),
        ({"reason": "a\x00b"}, "reason"),
        ({"reason": 5}, "reason"),
        ({"why": "x"}, "why"),
    ]:
        refused = error_of(client.post(path, json=body), 400)
        assert refused["details"][0]["field"] == field, refused
    assert len(events_of(client, outdial)) == 1  # nothing stored
    assert ok(client.post(path))["status"] == "paused"
    assert ok(client.post(path.replace("pause", "resume")))["status"] == "running"
    assert [e["data"].get("reason") for e in events_of(client, outdial)] == [None, "", None]


@SQLITE_ONLY
def test_pause_resume_and_the_window_of_a_missing_or_deleted_outdial(
    client: TestClient, other_key: str
) -> None:
    missing = "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"
    window = {"time_zone": "UTC", "hours": ALWAYS}
    for method, tail, body in [
        ("POST", "/pause", None),
        ("POST", "/resume", None),
        ("PUT", "/calling_window", window),
        ("DELETE", "/calling_window", None),
        ("GET", "/events", None),
    ]:
        answer = client.request(method, outdial_path(missing, tail), json=body)
        assert error_of(answer, 404)["reason"] == "OUTDIAL_NOT_FOUND"
    outdial = create_outdial(client)["id"]
    theirs = client.get(outdial_path(outdial, "/events"), headers={"Authorization": ""})
    assert theirs.status_code == 401
    other = client.get(
        outdial_path(outdial, "/events"), headers={"Authorization": f"Bearer {other_key}"}
    )
    assert error_of(other, 404)["reason"] == "OUTDIAL_NOT_FOUND"
    ok(client.delete(outdial_path(outdial)))
    for method, tail, body in [
        ("POST", "/pause", None),
        ("PUT", "/calling_window", window),
    ]:
        answer = client.request(method, outdial_path(outdial, tail), json=body)
        assert error_of(answer, 409)["reason"] == "OUTDIAL_DELETED"


def test_a_calling_window_is_set_with_its_defaults_and_removed(client: TestClient) -> None:
    outdial = create_outdial(client)["id"]
    path = outdial_path(outdial, "/calling_window")
    body = {
        "time_zone": "America/New_York",
        "hours": [{"days": [5, 1], "start": "09:00", "end": "20:00"}],
    }
    changed = ok(client.put(path, json=body))
    assert changed["calling_window"] == {
        "time_zone": "America/New_York",
        "hours": [{"days": [1, 5], "start": "09:00", "end": "20:00"}],
        "closed_dates": [],
        "use_number_time_zone": True,
        "stop_before_end_seconds": 0,
    }
    assert changed == ok(client.get(outdial_path(outdial)))
    assert ok(client.put(path, json=body)) == changed  # the same window records nothing
    full = {
        "time_zone": "Asia/Seoul",
        "hours": [
            {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "12:00"},
            {"days": [1, 2, 3, 4, 5], "start": "13:00", "end": "24:00"},
        ],
        "closed_dates": ["2026-12-25", "2026-01-01"],
        "use_number_time_zone": False,
        "stop_before_end_seconds": 60,
    }
    window = ok(client.put(path, json=full))["calling_window"]
    assert window == {**full, "closed_dates": ["2026-01-01", "2026-12-25"]}
    assert ok(client.get(outdial_path(outdial)))["calling_window"] == window
    removed = ok(client.delete(path))
    assert removed["calling_window"] is None
    assert removed == ok(client.get(outdial_path(outdial)))
    changes = [e for e in events_of(client, outdial) if e["type"] == "CallingWindowChanged"]
    assert [e["data"]["window"] for e in changes] == [changed["calling_window"], window, None]


HOURS = {"days": [1], "start": "09:00", "end": "17:00"}


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hours": [HOURS]}, "time_zone"),
        ({"time_zone": "Mars/Olympus", "hours": [HOURS]}, "time_zone"),
        ({"time_zone": "utc\x00", "hours": [HOURS]}, "time_zone"),
        ({"time_zone": "UTC"}, "hours"),
        ({"time_zone": "UTC", "hours": []}, "hours"),
        ({"time_zone": "UTC", "hours": [HOURS] * 29}, "hours"),
        ({"time_zone": "UTC", "hours": [{**HOURS, "days": [0]}]}, "hours[0].days"),
        ({"time_zone": "UTC", "hours": [{**HOURS, "days": []}]}, "hours[0].days"),
        ({"time_zone": "UTC", "hours": [{**HOURS, "days": [True]}]}, "hours[0].days[0]"),
        ({"time_zone": "UTC", "hours": [{**HOURS, "start": "9:00"}]}, "hours[0].start"),
        ({"time_zone": "UTC", "hours": [HOURS, {**HOURS, "end": "24:01"}]}, "hours[1].end"),
        ({"time_zone": "UTC", "hours": [{**HOURS, "end": "08:00"}]}, "hours[0].end"),
        ({"time_zone": "UTC", "hours": [{**HOURS, "at": "x"}]}, "hours[0].at"),
        ({"time_zone": "UTC", "hours": [HOURS], "closed_dates": ["2026-02-30"]}, "closed_dates[0]"),
        (
            {"time_zone": "UTC", "hours": [HOURS], "closed_dates": ["2026-01-01"] * 367},
            "closed_dates",
        ),
        (
            {"time_zone": "UTC", "hours": [HOURS], "use_number_time_zone": "yes"},
            "use_number_time_zone",
        ),
        (
            {"time_zone": "UTC", "hours": [HOURS], "stop_before_end_seconds": 3601},
            "stop_before_end_seconds",
        ),
        (
            {"time_zone": "UTC", "hours": [HOURS], "stop_before_end_seconds": "60"},
            "stop_before_end_seconds",
        ),
        ({"time_zone": "UTC", "hours": [HOURS], "opens": "now"}, "opens"),
    ],
)
def test_a_window_that_breaks_a_rule_is_400_naming_the_field_and_stores_nothing(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    outdial = create_outdial(client)["id"]
    refused = error_of(client.put(outdial_path(outdial, "/calling_window"), json=body), 400)
    assert refused["reason"] == "INVALID_ARGUMENT"
    assert refused["details"][0]["field"] == field, refused
    assert refused["message"].startswith(field + ": ")
    assert len(events_of(client, outdial)) == 1
    assert ok(client.get(outdial_path(outdial)))["calling_window"] is None


def test_a_closed_window_refuses_a_start_and_an_open_one_records_the_zones_dialed_in(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)["id"]
    ok(client.put(outdial_path(outdial, "/plan"), json={"max_try_count_0": 3}))
    target = create_target(client, outdial, TEL_0)["id"]
    path = targets_path(outdial, target)
    never = ok(client.post(path + "/dials"))
    assert never["time_zones"] == []  # no window
    ok(client.put(path + f"/dials/{never['id']}", json={"result": "fail"}))

    ok(client.put(outdial_path(outdial, "/calling_window"), json=closed_around_today()))
    judged = ok(client.get(path + "/availability"))
    assert judged["available"] is False
    (blocked,) = judged["blocked_by"]
    assert blocked["rule"] == "OUTSIDE_CALLING_WINDOW"
    assert "UTC" in blocked["message"]
    assert "entries" not in blocked
    assert WIRE_TIME.match(judged["ready_at"])
    assert judged["ready_at"] > datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    refused = error_of(client.post(path + "/dials"), 409)
    assert refused["reason"] == "TARGET_NOT_DIALABLE"
    assert ok(client.get(outdial_path(outdial, "/available")))["result"] == []
    assert ok(dispatch(client, outdial, limit=1))["result"] == []

    ok(
        client.put(
            outdial_path(outdial, "/calling_window"), json={"time_zone": "UTC", "hours": ALWAYS}
        )
    )
    dial = ok(client.post(path + "/dials"))
    assert dial["time_zones"] == ["Asia/Seoul"]  # the number's own zone
    assert ok(client.get(path + "/dials"))["result"][0] == dial
    found = ok(client.get("/v1.0/dials", params={"target_id": target}))["result"]
    assert [d["time_zones"] for d in found] == [["Asia/Seoul"], []]
