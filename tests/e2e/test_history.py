"""A target's events and replay over HTTP, read from the event store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import (
    NOT_DELETED,
    SEED_ORDER,
    TEL_0,
    TEL_1,
    create_outdial,
    create_target,
    ok,
    targets_path,
)

pytestmark = pytest.mark.shared_app


def test_events_are_the_four_kinds_oldest_first_with_their_data(client: TestClient) -> None:
    outdial = create_outdial(client)
    target = create_target(client, outdial["id"], TEL_0, TEL_1, name="Alice")
    path = targets_path(outdial["id"], target["id"])
    dial = ok(client.post(path + "/dials", json={"reference_id": "call-7"}))
    ok(client.put(path + f"/dials/{dial['id']}", json={"result": "fail", "reason": "busy"}))
    deleted = ok(client.delete(path))
    events = ok(client.get(path + "/events"))["result"]
    assert [(e["version"], e["type"]) for e in events] == [
        (1, "Created"),
        (2, "DialStarted"),
        (3, "DialFinished"),
        (4, "Deleted"),
    ]
    assert all(list(e) == ["version", "type", "timestamp", "data"] for e in events)
    assert events[0]["timestamp"] == target["tm_create"]
    assert events[-1]["timestamp"] == deleted["tm_delete"]
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    created, started, finished, _ = (e["data"] for e in events)
    assert created["name"] == "Alice"
    assert created["destinations"][1]["target"] == TEL_1
    assert created["destinations"][2] is None
    assert started["dial_id"] == dial["id"]
    assert (started["destination_index"], started["try_count"]) == (0, 1)
    assert started["reference_id"] == "call-7"
    assert started["plan"] == dial["plan"]
    assert (finished["result"], finished["reason"]) == ("fail", "busy")


@SQLITE_ONLY
def test_replay_shows_each_state_and_the_fields_each_event_changed(client: TestClient) -> None:
    outdial = create_outdial(client)
    target = create_target(client, outdial["id"], TEL_0)
    path = targets_path(outdial["id"], target["id"])
    dial = ok(client.post(path + "/dials"))
    finished = ok(client.put(path + f"/dials/{dial['id']}", json={"result": "success"}))
    steps = ok(client.get(path + "/replay"))["result"]
    assert [s["event"]["type"] for s in steps] == ["Created", "DialStarted", "DialFinished"]
    assert steps[0]["state"] == target
    assert steps[-1]["state"] == finished == ok(client.get(path))
    assert all(list(s["state"]) == SEED_ORDER for s in steps)
    assert steps[0]["changes"]["tm_delete"] == [None, NOT_DELETED]  # nothing existed before
    assert steps[1]["changes"] == {
        "status": ["idle", "progressing"],
        "try_count_0": [0, 1],
        "tm_update": [target["tm_update"], dial["tm_start"]],
    }
    assert steps[2]["changes"]["status"] == ["progressing", "done"]
    assert ok(client.get(path + "/events"))["result"] == [s["event"] for s in steps]
