"""A person's data as the service stores it, seen from outside: after a target is created
and dialed over HTTP, the event store's raw tables and files hold neither its number nor
its name, while every answer shows them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from adapters.stores import Storage
from tests.e2e.conftest import app_on, bearer, create_outdial, new_key, ok, targets_path, tel
from tests.integration.test_sealing import raw_event_store

NUMBER = "+821055501234"
NAME = "Hyun-woo Bak"


@pytest.mark.own_app
def test_the_event_store_never_holds_a_new_targets_number_or_name(storage: Storage) -> None:
    app = app_on(storage)
    with TestClient(app, headers=bearer(new_key(app))) as client:
        outdial = create_outdial(client)
        body = {"name": NAME, "destination_0": {**tel(NUMBER), "target_name": NAME}}
        target = ok(client.post(targets_path(outdial["id"]), json=body))
        path = targets_path(outdial["id"], target["id"])
        dial = ok(client.post(path + "/dials"))
        ok(client.put(path + f"/dials/{dial['id']}", json={"result": "fail", "reason": "busy"}))
        assert ok(client.get(path))["name"] == NAME
        events = ok(client.get(path + "/events"))["result"]
        assert events[0]["data"]["name"] == NAME
        assert events[1]["data"]["destination"]["target"] == NUMBER
        assert ok(client.get("/v1.0/dials", params={"destination": NUMBER}))["result"]
    raw = raw_event_store(storage)
    for personal in (NUMBER, NUMBER[1:], NAME):
        assert personal.encode() not in raw, personal
