"""A person's data as the service stores it, seen from outside: after a target is created
and dialed over HTTP, the event store's raw tables and files hold neither its number nor
its name, while every answer shows them."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from adapters.stores import Storage
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import app_on, bearer, create_outdial, new_key, ok, targets_path, tel
from tests.integration.test_sealing import raw_event_store

NUMBER = "+821055501234"
NAME = "Hyun-woo Bak"
NOTE = "prefers evenings"
PLACE = "Hyun-woo at home"


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


@SQLITE_ONLY
@pytest.mark.own_app
def test_after_an_erasure_no_file_of_the_data_directory_holds_the_person(
    storage: Storage,
) -> None:
    app = app_on(storage)
    with TestClient(app, headers=bearer(new_key(app))) as client:
        outdial = create_outdial(client)
        headers = {"Idempotency-Key": f"create-{uuid4()}"}
        body = {
            "name": NAME,
            "detail": NOTE,
            "destination_0": {"type": "tel", "target": NUMBER, "target_name": PLACE},
        }
        target = ok(client.post(targets_path(outdial["id"]), json=body, headers=headers))
        path = targets_path(outdial["id"], target["id"])
        dial = ok(client.post(path + "/dials"))
        ok(client.put(path + f"/dials/{dial['id']}", json={"result": "fail", "reason": "busy"}))
        ok(client.post("/v1.0/erasures", json={"target_ids": [target["id"]]}))
        found = _files_holding(
            Path(storage.data_dir or ""), (NUMBER, NUMBER[1:], NAME, PLACE, NOTE)
        )
        assert found == [], found


def _files_holding(directory: Path, texts: tuple[str, ...]) -> list[tuple[str, str]]:
    """(file, text) for each file under ``directory`` that holds one of ``texts``, in
    UTF-8 or in UTF-16 (as SQLite could store text)."""
    found = []
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        content = file.read_bytes()
        for text in texts:
            if text.encode() in content or text.encode("utf-16-le") in content:
                found.append((file.name, text))
    return found
