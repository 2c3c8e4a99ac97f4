"""/v1.0/outdials over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import (
    DEFAULT_PLAN,
    NO_CAMPAIGN,
    NOT_DELETED,
    WIRE_TIME,
    create_outdial,
    create_target,
    error_of,
    ok,
    targets_path,
)

pytestmark = pytest.mark.shared_app


def test_a_new_outdial_has_the_wire_fields_in_order_and_defaults(client: TestClient) -> None:
    outdial = create_outdial(client, name="Q1")
    assert list(outdial) == [
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
    assert (outdial["name"], outdial["detail"], outdial["data"]) == ("Q1", "", "")
    assert (outdial["status"], outdial["calling_window"]) == ("running", None)
    assert outdial["campaign_id"] == NO_CAMPAIGN
    assert outdial["plan"] == DEFAULT_PLAN
    assert WIRE_TIME.match(outdial["tm_create"])
    assert outdial["tm_update"] == outdial["tm_create"]
    assert outdial["tm_delete"] == NOT_DELETED


def test_what_a_write_answers_is_what_the_next_read_answers(client: TestClient) -> None:
    outdial = create_outdial(client, name="Q1", detail="d", data="x")
    assert ok(client.get(f"/v1.0/outdials/{outdial['id']}")) == outdial
    changed = ok(client.put(f"/v1.0/outdials/{outdial['id']}", json={"name": "Q2", "detail": ""}))
    assert ok(client.get(f"/v1.0/outdials/{outdial['id']}")) == changed
    assert changed["tm_update"] > changed["tm_create"]


@SQLITE_ONLY
def test_campaign_data_and_plan_change_and_plan_fields_left_out_keep_their_value(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    path = f"/v1.0/outdials/{outdial['id']}"
    campaign = "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"
    assert ok(client.put(f"{path}/campaign_id", json={"campaign_id": campaign}))["campaign_id"] == (
        campaign
    )
    assert ok(client.put(f"{path}/data", json={"data": "vip"}))["data"] == "vip"
    ok(client.put(f"{path}/plan", json={"max_try_count_0": 3, "try_interval": 1000}))
    plan = ok(client.put(f"{path}/plan", json={"dial_timeout": 30000}))["plan"]
    assert plan == {
        **DEFAULT_PLAN,
        "max_try_count_0": 3,
        "try_interval": 1000,
        "dial_timeout": 30000,
    }
    assert ok(client.get(path))["plan"] == plan


@SQLITE_ONLY
def test_plan_values_out_of_range_are_400_naming_the_field(client: TestClient) -> None:
    outdial = create_outdial(client)
    path = f"/v1.0/outdials/{outdial['id']}/plan"
    for body, field in [
        ({"max_try_count_2": 101}, "max_try_count_2"),
        ({"dial_timeout": 999}, "dial_timeout"),
        ({"try_interval": -1}, "try_interval"),
        ({"max_try_count_5": 1}, "max_try_count_5"),
        ({"try_interval": "soon"}, "try_interval"),
    ]:
        error = error_of(client.put(path, json=body), 400)
        assert error["status"] == "INVALID_ARGUMENT"
        assert error["message"].startswith(f"{field}:"), error


def test_outdial_text_limits_are_400_naming_the_field(client: TestClient) -> None:
    for field, limit in [("name", 255), ("detail", 2048), ("data", 16384)]:
        create_outdial(client, **{field: "x" * limit})
        error = error_of(client.post("/v1.0/outdials", json={field: "x" * (limit + 1)}), 400)
        assert error["reason"] == "INVALID_ARGUMENT"
        assert error["message"].startswith(f"{field}:")


@SQLITE_ONLY
def test_a_campaign_id_that_is_not_a_uuid_is_400(client: TestClient) -> None:
    error = error_of(client.post("/v1.0/outdials", json={"campaign_id": "nope"}), 400)
    assert error["message"].startswith("campaign_id:")


@SQLITE_ONLY
def test_an_update_changes_the_fields_given_and_keeps_those_left_out(client: TestClient) -> None:
    outdial = create_outdial(client, name="spring", detail="list")
    path = f"/v1.0/outdials/{outdial['id']}"
    renamed = ok(client.put(path, json={"name": "summer"}))
    assert (renamed["name"], renamed["detail"]) == ("summer", "list")
    cleared = ok(client.put(path, json={"detail": None}))
    assert (cleared["name"], cleared["detail"]) == ("summer", "")
    error = error_of(client.put(path, json={"name": 5}), 400)
    assert error["message"].startswith("name:")


@SQLITE_ONLY
def test_a_deleted_outdial_stays_readable_takes_nothing_new_and_deletes_once(
    client: TestClient,
) -> None:
    outdial = create_outdial(client, name="old")
    target = create_target(client, outdial["id"], "+821100000001")
    path = f"/v1.0/outdials/{outdial['id']}"
    deleted = ok(client.delete(path))
    assert deleted["tm_delete"] != NOT_DELETED
    assert ok(client.delete(path)) == deleted
    assert ok(client.get(path)) == deleted
    new_target = {"destination_0": {"type": "tel", "target": "+821100000009"}}
    for response in [
        client.put(path, json={"name": "n", "detail": "d"}),
        client.put(f"{path}/campaign_id", json={"campaign_id": NO_CAMPAIGN}),
        client.put(f"{path}/data", json={"data": "x"}),
        client.put(f"{path}/plan", json={"try_interval": 5}),
        client.post(f"{path}/targets", json=new_target),
        client.post(f"{path}/targets/batch", json={"targets": [new_target]}),
    ]:
        error = error_of(response, 409)
        assert (error["status"], error["reason"]) == ("FAILED_PRECONDITION", "OUTDIAL_DELETED")
    assert ok(client.get(targets_path(outdial["id"], target["id"])))["id"] == target["id"]
    assert ok(client.get(f"{path}/available"))["result"] == []


def test_the_list_is_newest_first_and_leaves_out_deleted_outdials(client: TestClient) -> None:
    first, second, third = (create_outdial(client, name=n) for n in ("a", "b", "c"))
    ok(client.delete(f"/v1.0/outdials/{second['id']}"))
    listed = ok(client.get("/v1.0/outdials"))
    assert [o["id"] for o in listed["result"]] == [third["id"], first["id"]]
    assert listed["next_page_token"] == ""


def test_outdials_page_without_skipping_or_repeating(client: TestClient) -> None:
    made = [create_outdial(client, name=str(n))["id"] for n in range(5)]
    seen: list[str] = []
    token = ""
    while True:
        page = ok(client.get("/v1.0/outdials", params={"page_size": 2, "page_token": token}))
        seen += [o["id"] for o in page["result"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == made[::-1]


@SQLITE_ONLY
def test_an_unknown_outdial_is_404(client: TestClient) -> None:
    missing = "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"
    for response in [
        client.get(f"/v1.0/outdials/{missing}"),
        client.put(f"/v1.0/outdials/{missing}", json={"name": "n", "detail": "d"}),
        client.delete(f"/v1.0/outdials/{missing}"),
        client.get(f"/v1.0/outdials/{missing}/targets"),
    ]:
        error = error_of(response, 404)
        assert (error["status"], error["reason"]) == ("NOT_FOUND", "OUTDIAL_NOT_FOUND")
