"""Erasures over HTTP (SPEC §13): a person erased on request, by the targets' ids, by an
address or with a whole deleted outdial; every reader then shows blanks where the person
was, while status, try counts, times and dial results stay; and no file of the store
holds the person any more."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from tests.conftest import BOTH_STORES
from tests.e2e.conftest import (
    bearer,
    create_outdial,
    error_of,
    new_key,
    ok,
    targets_path,
    text_of,
)

pytestmark = [pytest.mark.shared_app, pytest.mark.parametrize("store", BOTH_STORES)]

NUMBER = "+821055507777"
NAME = "Seo-yeon Kwon"
NOTE = "prefers evenings"
PLACE = "Seo-yeon at home"
NIL = "00000000-0000-0000-0000-000000000000"
BLANK_TEL = {"type": "tel", "target": "", "target_name": "", "name": "", "detail": ""}


def _person(client: TestClient, outdial_id: str, number: str = NUMBER) -> dict[str, Any]:
    """A target that is a person, dialed once (busy)."""
    body = {
        "name": NAME,
        "detail": NOTE,
        "data": '{"crm": "Kwon"}',
        "destination_0": {"type": "tel", "target": number, "target_name": PLACE},
    }
    target: dict[str, Any] = ok(client.post(targets_path(outdial_id), json=body))
    path = targets_path(outdial_id, target["id"])
    dial = ok(client.post(path + "/dials", json={"reference_id": "call-1"}))
    ok(client.put(path + f"/dials/{dial['id']}", json={"result": "fail", "reason": "busy"}))
    return target


def _erase(client: TestClient, **body: Any) -> dict[str, Any]:
    erasure: dict[str, Any] = ok(client.post("/v1.0/erasures", json=body))
    return erasure


def test_an_erased_target_reads_blank_everywhere_and_keeps_its_history(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    target = _person(client, outdial["id"])
    path = targets_path(outdial["id"], target["id"])
    before = ok(client.get(path))

    erasure = _erase(client, target_ids=[target["id"]], reason="GDPR Art. 17 request 42")

    assert erasure["target_ids"] == [target["id"]]
    assert erasure["outdial_id"] == NIL
    assert erasure["count"] == 1
    assert erasure["reason"] == "GDPR Art. 17 request 42"
    assert erasure["actor"].startswith("kid_")
    after = ok(client.get(path))
    assert (after["name"], after["detail"], after["data"]) == ("", "", "")
    assert after["destination_0"] == BLANK_TEL
    assert after["destination_1"] is None
    assert after["status"] == before["status"]
    assert after["try_count_0"] == before["try_count_0"] == 1
    assert after["tm_create"] == before["tm_create"]
    assert after["tm_delete"] != before["tm_delete"]  # deleted by the erasure
    dials = ok(client.get(path + "/dials"))["result"]
    assert [d["result"] for d in dials] == ["fail"]
    assert dials[0]["reason"] == "busy"
    assert dials[0]["reference_id"] == "call-1"
    assert dials[0]["destination"] == BLANK_TEL
    events = ok(client.get(path + "/events"))["result"]
    assert [e["type"] for e in events] == ["Created", "DialStarted", "DialFinished", "Deleted"]
    assert [e.get("erased", False) for e in events] == [True, True, False, False]
    assert events[0]["data"]["name"] == ""
    assert events[0]["data"]["destinations"][0] == BLANK_TEL
    assert events[1]["data"]["destination"] == BLANK_TEL
    replay = ok(client.get(path + "/replay"))["result"]
    assert replay[0]["event"]["erased"] is True
    assert all(step["state"]["name"] == "" for step in replay)
    at_version = ok(client.get(path, params={"version": 1}))
    assert at_version["name"] == ""
    assert at_version["destination_0"] == BLANK_TEL
    at_time = ok(client.get(path, params={"at": before["tm_update"]}))
    assert at_time["destination_0"] == BLANK_TEL
    assert ok(client.get("/v1.0/dials", params={"destination": NUMBER}))["result"] == []
    feed = ok(client.get("/v1.0/events"))["result"]
    personal = [e for e in feed if e["type"] in ("Target.Created", "Target.DialStarted")]
    assert personal
    assert all(e["erased"] is True for e in personal)
    assert NUMBER not in str(feed)
    assert NAME not in str(feed)
    assert [e["aggregate"] for e in feed if e["type"] == "Erasure.Recorded"] == ["erasure"]


def test_erasures_are_listed_read_and_name_no_personal_data(client: TestClient) -> None:
    outdial = create_outdial(client)
    first = _person(client, outdial["id"])
    second = _person(client, outdial["id"], "+821055508888")
    by_id = _erase(client, target_ids=[first["id"]])
    by_address = _erase(client, address={"type": "tel", "target": "+821055508888"})

    assert by_address["target_ids"] == [second["id"]]
    assert ok(client.get(f"/v1.0/erasures/{by_id['id']}")) == by_id
    listed = ok(client.get("/v1.0/erasures"))
    assert [e["id"] for e in listed["result"]] == [by_address["id"], by_id["id"]]
    named = ok(client.get("/v1.0/erasures", params={"target_id": second["id"]}))["result"]
    assert [e["id"] for e in named] == [by_address["id"]]
    assert "+821055508888" not in str(listed)
    events = ok(client.get("/v1.0/events", params={"types": "Erasure.Recorded"}))["result"]
    assert "+821055508888" not in str(events)


def test_an_address_matching_nobody_is_an_erasure_of_no_one(client: TestClient) -> None:
    erasure = _erase(client, address={"type": "tel", "target": "+821055500000"})
    assert (erasure["count"], erasure["target_ids"]) == (0, [])
    assert ok(client.get(f"/v1.0/erasures/{erasure['id']}"))["count"] == 0


def test_an_address_erasure_finds_the_customers_targets_in_every_outdial_and_blocks_it(
    client: TestClient,
) -> None:
    one, two = create_outdial(client), create_outdial(client)
    found = [_person(client, one["id"]), _person(client, two["id"])]
    kept = _person(client, two["id"], "+821055509999")

    erasure = _erase(
        client, address={"type": "tel", "target": NUMBER}, do_not_call=True, reason="asked"
    )

    assert sorted(erasure["target_ids"]) == sorted(t["id"] for t in found)
    assert erasure["count"] == 2
    entries = ok(client.get("/v1.0/do_not_call", params={"target": NUMBER}))["result"]
    assert [(e["target"], e["outdial_id"]) for e in entries] == [(NUMBER, NIL)]
    assert ok(client.get(targets_path(two["id"], kept["id"])))["name"] == NAME
    again = _erase(client, address={"type": "tel", "target": NUMBER})
    assert again["count"] == 0  # erased targets no longer have the address


def test_a_deleted_outdials_targets_are_erased_together(client: TestClient) -> None:
    outdial = create_outdial(client)
    targets = [_person(client, outdial["id"], f"+82105550700{n}") for n in range(3)]
    # One deleted before: the erasure blanks it and keeps its deletion as it was.
    deleted = ok(client.delete(targets_path(outdial["id"], targets[0]["id"])))

    refused = client.post("/v1.0/erasures", json={"outdial_id": outdial["id"]})
    assert error_of(refused, 409)["reason"] == "OUTDIAL_NOT_DELETED"
    ok(client.delete(f"/v1.0/outdials/{outdial['id']}"))
    erasure = _erase(client, outdial_id=outdial["id"], reason="retention: 90 days")
    rows = [ok(client.get(targets_path(outdial["id"], t["id"]))) for t in targets]
    assert (rows[0]["tm_delete"], rows[0]["tm_update"]) == (
        deleted["tm_delete"],
        deleted["tm_update"],
    )
    for row in rows[1:]:  # deleted by the erasure, in the write that blanked them
        assert row["tm_delete"] == row["tm_update"] > deleted["tm_delete"]

    assert (erasure["target_ids"], erasure["outdial_id"], erasure["count"]) == (
        [],
        outdial["id"],
        3,
    )
    for target in targets:
        row = ok(client.get(targets_path(outdial["id"], target["id"])))
        assert (row["name"], row["destination_0"]) == ("", BLANK_TEL)
        named = ok(client.get("/v1.0/erasures", params={"target_id": target["id"]}))["result"]
        assert [e["id"] for e in named] == [erasure["id"]]
    # Their addresses are gone with them: an erasure by one finds no one.
    assert _erase(client, address={"type": "tel", "target": "+821055507001"})["count"] == 0


def test_another_customers_or_an_unknown_target_is_not_found_and_nothing_is_erased(
    app: Any, client: TestClient
) -> None:
    outdial = create_outdial(client)
    mine = _person(client, outdial["id"])
    with TestClient(app, headers=bearer(new_key(app))) as other:
        theirs = _person(other, create_outdial(other)["id"])
    for ids in ([mine["id"], theirs["id"]], [mine["id"], str(uuid4())]):
        refused = client.post("/v1.0/erasures", json={"target_ids": ids})
        assert error_of(refused, 404)["reason"] == "OUTDIAL_TARGET_NOT_FOUND"
    assert ok(client.get(targets_path(outdial["id"], mine["id"])))["name"] == NAME
    assert ok(client.get("/v1.0/erasures"))["result"] == []
    erasure = _erase(client, target_ids=[mine["id"]])
    other_key = new_key(app)
    refused = client.get(f"/v1.0/erasures/{erasure['id']}", headers=bearer(other_key))
    assert error_of(refused, 404)["reason"] == "ERASURE_NOT_FOUND"


def test_erasing_an_erased_target_again_changes_nothing(client: TestClient) -> None:
    outdial = create_outdial(client)
    target = _person(client, outdial["id"])
    path = targets_path(outdial["id"], target["id"])
    _erase(client, target_ids=[target["id"]])
    erased = ok(client.get(path))
    events = ok(client.get(path + "/events"))["result"]
    again = _erase(client, target_ids=[target["id"]])
    assert again["count"] == 1
    assert ok(client.get(path)) == erased
    assert ok(client.get(path + "/events"))["result"] == events
    ok(client.delete(path))  # deleting it again answers it blank
    assert ok(client.delete(path))["name"] == ""


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "target_ids"),
        ({"target_ids": []}, "target_ids"),
        ({"target_ids": [str(uuid4())] * 1001}, "target_ids"),
        ({"target_ids": ["not-an-id"]}, "target_ids"),
        ({"target_ids": [str(uuid4())], "outdial_id": str(uuid4())}, "body"),
        ({"target_ids": [str(uuid4())], "do_not_call": True}, "do_not_call"),
        ({"outdial_id": str(uuid4()), "do_not_call": False}, "do_not_call"),
        ({"address": {"type": "tel", "target": "12"}}, "address.target"),
        ({"address": {"type": "fax", "target": NUMBER}}, "address.type"),
        ({"address": {"target": NUMBER}}, "address.type"),
        ({"target_ids": [str(uuid4())], "reason": "x" * 256}, "reason"),
        ({"target_ids": [str(uuid4())], "reason": "a\x00b"}, "reason"),
        ({"target_ids": [str(uuid4())], "surname": "x"}, "surname"),
    ],
)
def test_a_bad_erasure_is_400_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    error = error_of(client.post("/v1.0/erasures", json=body), 400)
    assert error["status"] == "INVALID_ARGUMENT"
    assert field in error["message"], error


def test_a_repeated_erasure_with_its_idempotency_key_answers_the_first(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    headers = {"Idempotency-Key": f"create-{uuid4()}"}
    body = {"name": NAME, "destination_0": {"type": "tel", "target": NUMBER}}
    created = ok(client.post(targets_path(outdial["id"]), json=body, headers=headers))
    assert created["name"] == NAME
    erase_key = {"Idempotency-Key": f"erase-{uuid4()}"}
    first = ok(
        client.post("/v1.0/erasures", json={"target_ids": [created["id"]]}, headers=erase_key)
    )
    second = client.post("/v1.0/erasures", json={"target_ids": [created["id"]]}, headers=erase_key)
    assert ok(second) == first
    # The answer kept for the create's repeats no longer shows the person.
    repeated = ok(client.post(targets_path(outdial["id"]), json=body, headers=headers))
    assert repeated["id"] == created["id"]
    assert (repeated["name"], repeated["destination_0"]) == ("", BLANK_TEL)


def test_an_erased_targets_page_says_when_by_whom_and_why_and_shows_no_person(
    client: TestClient, signed_in: TestClient
) -> None:
    outdial = create_outdial(client)
    target = _person(client, outdial["id"])
    erasure = _erase(client, target_ids=[target["id"]], reason="asked by letter")
    page = signed_in.get(f"/ui/outdials/{outdial['id']}/targets/{target['id']}")
    assert page.status_code == 200
    said = text_of(page)
    assert (
        f"Erased on {erasure['tm_create']} by {erasure['actor']}, reason: asked by letter" in said
    )
    for personal in (NAME, NUMBER, PLACE, NOTE):
        assert personal not in page.text
    assert "4 events and 1 dial attempts" in said


def test_an_address_erasure_leaves_another_customers_target_at_that_address(
    app: Any, client: TestClient
) -> None:
    with TestClient(app, headers=bearer(new_key(app))) as other:
        outdial = create_outdial(other)
        theirs = _person(other, outdial["id"])
        mine = _person(client, create_outdial(client)["id"])
        erasure = _erase(client, address={"type": "tel", "target": NUMBER})
        assert erasure["target_ids"] == [mine["id"]]
        assert ok(other.get(targets_path(outdial["id"], theirs["id"])))["name"] == NAME
