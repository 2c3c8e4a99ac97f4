"""The event feed over HTTP: a customer's events after a position, filtered, paged by
next_after, and nobody else's."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import (
    TEL_0,
    TEL_1,
    bearer,
    create_outdial,
    create_target,
    error_of,
    ok,
    targets_path,
)

pytestmark = pytest.mark.shared_app

EVENTS = "/v1.0/events"
WIRE_FIELDS = [
    "position",
    "aggregate",
    "aggregate_id",
    "outdial_id",
    "version",
    "type",
    "timestamp",
    "actor",
    "data",
]


def _everything(client: TestClient, **query: Any) -> list[dict[str, Any]]:
    """Every event the customer may read with this filter, a page at a time."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        page = ok(client.get(EVENTS, params={**query, "after": after, "limit": 2}))
        found += page["result"]
        if page["next_after"] == after:
            return found
        assert page["next_after"] > after
        after = page["next_after"]


def _campaign(client: TestClient) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    outdial = create_outdial(client, name="spring")
    target = create_target(client, outdial["id"], TEL_0, name="Alice")
    path = targets_path(outdial["id"], target["id"])
    dial = ok(client.post(path + "/dials", json={"reference_id": "call-1"}))
    ok(client.put(path + f"/dials/{dial['id']}", json={"result": "fail", "reason": "busy"}))
    ok(client.post(f"/v1.0/outdials/{outdial['id']}/pause", json={"reason": "lunch"}))
    return outdial, target, dial


def test_events_come_oldest_first_with_their_position_owner_and_actor(
    client: TestClient,
) -> None:
    outdial, target, dial = _campaign(client)
    events = _everything(client)
    assert [e["type"] for e in events] == [
        "Outdial.Created",
        "Target.Created",
        "Target.DialStarted",
        "Target.DialFinished",
        "Outdial.Paused",
    ]
    assert all(list(e) == WIRE_FIELDS for e in events)
    positions = [e["position"] for e in events]
    assert positions == sorted(set(positions))
    assert [e["aggregate"] for e in events] == ["outdial", "target", "target", "target", "outdial"]
    assert {e["outdial_id"] for e in events} == {outdial["id"]}
    assert [e["aggregate_id"] for e in events][1:4] == [target["id"]] * 3
    assert [e["version"] for e in events] == [1, 1, 2, 3, 2]
    assert len({e["actor"] for e in events}) == 1
    assert events[0]["actor"].startswith("kid_")
    assert all("actor" not in e["data"] for e in events)
    assert events[1]["data"]["name"] == "Alice"
    assert events[2]["data"]["dial_id"] == dial["id"]
    assert events[3]["data"]["reason"] == "busy"
    assert events[4]["data"]["reason"] == "lunch"
    assert events[1]["timestamp"] == target["tm_create"]


def test_filters_pick_an_outdials_a_targets_or_some_types(client: TestClient) -> None:
    outdial, target, _ = _campaign(client)
    other = create_outdial(client)
    create_target(client, other["id"], TEL_1)
    assert len(_everything(client)) == 7
    assert [e["type"] for e in _everything(client, outdial_id=other["id"])] == [
        "Outdial.Created",
        "Target.Created",
    ]
    of_target = _everything(client, target_id=target["id"])
    assert [e["version"] for e in of_target] == [1, 2, 3]
    finished = _everything(client, types="Target.DialFinished, Outdial.Paused")
    assert [e["type"] for e in finished] == ["Target.DialFinished", "Outdial.Paused"]
    assert _everything(client, outdial_id=outdial["id"], types="Target.Deleted") == []


def test_do_not_call_entries_name_their_outdial_or_none(client: TestClient) -> None:
    outdial = create_outdial(client)
    entries = [{"target": TEL_0}, {"target": TEL_1, "outdial_id": outdial["id"]}]
    ok(client.post("/v1.0/do_not_call", json={"entries": entries}))
    added = _everything(client, types="DoNotCallEntry.Added")
    assert [(e["aggregate"], e["outdial_id"]) for e in added] == [
        ("do_not_call", None),
        ("do_not_call", outdial["id"]),
    ]


def test_a_reader_sees_nothing_of_another_customer_yet_moves_on(
    app: Any, client: TestClient, other_key: str
) -> None:
    _campaign(client)
    mine = ok(client.get(EVENTS, params={"limit": 1000}))
    with TestClient(app, headers=bearer(other_key)) as theirs:
        page = ok(theirs.get(EVENTS, params={"limit": 1000}))
        assert page["result"] == []
        assert page["next_after"] >= mine["result"][-1]["position"]
        # Nothing matched after it either: the answer names the position it was given.
        again = ok(theirs.get(EVENTS, params={"after": page["next_after"]}))
        assert again == {"result": [], "next_after": page["next_after"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "1.5"}, "after"),
        ({"after": 2**63}, "after"),
        ({"after": 10**20}, "after"),
        ({"types": "Target.Dialed"}, "types"),
        ({"outdial_id": "nope"}, "outdial_id"),
        ({"target_id": "nope"}, "target_id"),
    ],
)
def test_a_bad_query_is_400_naming_it(
    client: TestClient, query: dict[str, Any], field: str
) -> None:
    error = error_of(client.get(EVENTS, params=query), 400)
    assert field in error["message"]


def test_a_limit_stops_the_page_at_its_last_event(client: TestClient) -> None:
    _campaign(client)
    first = ok(client.get(EVENTS, params={"limit": 2}))
    assert len(first["result"]) == 2
    assert first["next_after"] == first["result"][-1]["position"]
