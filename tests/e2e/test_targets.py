"""/v1.0/outdials/{id}/targets over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import (
    NOT_DELETED,
    SEED_ORDER,
    TEL_0,
    TEL_1,
    WIRE_TIME,
    create_outdial,
    create_target,
    dispatch,
    error_of,
    finish,
    ok,
    targets_path,
    tel,
)

pytestmark = pytest.mark.shared_app


def batch(client: TestClient, outdial_id: str, targets: list[dict[str, Any]]) -> Any:
    return client.post(targets_path(outdial_id) + "/batch", json={"targets": targets})


def every_page(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        page = ok(client.get(path, params={**params, "page_token": token}))
        items += page["result"]
        token = page["next_page_token"]
        if not token:
            return items


def test_a_new_target_has_the_seed_fields_in_order_with_null_destinations(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    target = create_target(client, outdial["id"], TEL_0, name="Alice", data="vip")
    assert list(target) == SEED_ORDER
    assert target["outdial_id"] == outdial["id"]
    assert (target["name"], target["detail"], target["data"]) == ("Alice", "", "vip")
    assert target["status"] == "idle"
    assert target["destination_0"] == {
        "type": "tel",
        "target": TEL_0,
        "target_name": "",
        "name": "",
        "detail": "",
    }
    assert [target[f"destination_{n}"] for n in range(1, 5)] == [None] * 4
    assert [target[f"try_count_{n}"] for n in range(5)] == [0] * 5
    assert WIRE_TIME.match(target["tm_create"])
    assert target["tm_update"] == target["tm_create"]
    assert target["tm_delete"] == NOT_DELETED
    assert ok(client.get(targets_path(outdial["id"], target["id"]))) == target


@SQLITE_ONLY
def test_every_address_type_is_accepted_with_its_own_rule(client: TestClient) -> None:
    outdial = create_outdial(client)
    uuid = "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"
    for address in [
        {"type": "whatsapp", "target": TEL_1},
        {"type": "sip", "target": "alice@example.com"},
        {"type": "email", "target": "bob@example.com", "target_name": "Bob"},
        {"type": "extension", "target": "2001"},
        {"type": "line", "target": "main"},
        {"type": "agent", "target": uuid},
        {"type": "conference", "target": uuid},
        {"type": "webchat", "target": uuid},
        {"type": "web_session", "target": uuid},
    ]:
        body = {"destination_3": address}
        target = ok(client.post(targets_path(outdial["id"]), json=body))
        assert target["destination_3"]["target"] == address["target"]


@SQLITE_ONLY
def test_null_address_labels_are_read_as_empty(client: TestClient) -> None:
    outdial = create_outdial(client)
    address = {"type": "tel", "target": TEL_0, "target_name": None, "name": None, "detail": None}
    target = ok(client.post(targets_path(outdial["id"]), json={"destination_0": address}))
    assert target["destination_0"] == {
        "type": "tel",
        "target": TEL_0,
        "target_name": "",
        "name": "",
        "detail": "",
    }


@SQLITE_ONLY
def test_a_bad_address_is_400_naming_the_field(client: TestClient) -> None:
    outdial = create_outdial(client)
    path = targets_path(outdial["id"])
    for destination, field in [
        ({"type": "tel", "target": "0101234"}, "destination_2.target"),
        ({"type": "fax", "target": TEL_0}, "destination_2.type"),
        ({"type": "sip", "target": "nobody"}, "destination_2.target"),
        ({"type": "agent", "target": "not-a-uuid"}, "destination_2.target"),
        ({"type": "tel", "target": TEL_0, "name": "x" * 256}, "destination_2.name"),
        ({"type": "tel", "target": TEL_0, "colour": "red"}, "destination_2.colour"),
        ({"target": "alice@example.com"}, "destination_2.type"),
        ({"type": "", "name": "home"}, "destination_2.type"),
        ("+821100000001", "destination_2"),
    ]:
        error = error_of(client.post(path, json={"destination_2": destination}), 400)
        assert error["status"] == "INVALID_ARGUMENT"
        assert error["message"].startswith(f"{field}:"), error


@SQLITE_ONLY
def test_a_target_needs_a_destination_and_text_within_limits(client: TestClient) -> None:
    outdial = create_outdial(client)
    path = targets_path(outdial["id"])
    assert error_of(client.post(path, json={"name": "x"}), 400)["message"].startswith(
        "destination_0:"
    )
    too_long = {"destination_0": tel(), "detail": "x" * 2049}
    assert error_of(client.post(path, json=too_long), 400)["message"].startswith("detail:")


def test_a_batch_is_created_whole_in_its_order(client: TestClient) -> None:
    outdial = create_outdial(client)
    made = ok(
        batch(client, outdial["id"], [{"destination_0": tel(), "name": str(n)} for n in range(3)])
    )
    assert [t["name"] for t in made["result"]] == ["0", "1", "2"]
    assert all(list(t) == SEED_ORDER for t in made["result"])
    assert len({t["tm_create"] for t in made["result"]}) == 1  # one atomic write


@SQLITE_ONLY
def test_a_batch_with_one_bad_target_creates_nothing_and_names_it(client: TestClient) -> None:
    outdial = create_outdial(client)
    targets: list[dict[str, Any]] = [{"destination_0": tel()} for _ in range(5)]
    targets[3] = {"destination_2": {"type": "tel", "target": "12"}}
    error = error_of(batch(client, outdial["id"], targets), 400)
    assert error["message"].startswith("targets[3].destination_2.target:"), error
    targets[3] = {"destination_2": {"type": "tel", "target": TEL_0, "name": 7}}
    error = error_of(batch(client, outdial["id"], targets), 400)
    assert error["message"].startswith("targets[3].destination_2.name:"), error
    targets[3] = {"name": "no destination"}
    error = error_of(batch(client, outdial["id"], targets), 400)
    assert error["message"].startswith("targets[3].destination_0:"), error
    assert ok(client.get(targets_path(outdial["id"])))["result"] == []


def test_a_batch_holds_one_to_a_thousand_targets(client: TestClient) -> None:
    outdial = create_outdial(client)
    assert (
        len(ok(batch(client, outdial["id"], [{"destination_0": tel()}] * 1000))["result"]) == 1000
    )
    error_of(batch(client, outdial["id"], [{"destination_0": tel()}] * 1001), 400)
    error_of(batch(client, outdial["id"], []), 400)


def test_paging_through_a_bulk_import_never_skips_or_repeats(client: TestClient) -> None:
    outdial = create_outdial(client)
    made = ok(batch(client, outdial["id"], [{"destination_0": tel()}] * 250))["result"]
    assert len({t["tm_create"] for t in made}) == 1  # all share one tm_create
    seen = every_page(client, targets_path(outdial["id"]), page_size=100)
    assert len(seen) == 250
    assert {t["id"] for t in seen} == {t["id"] for t in made}


@SQLITE_ONLY
def test_page_size_is_clamped_to_100_and_must_be_an_integer(client: TestClient) -> None:
    outdial = create_outdial(client)
    ok(batch(client, outdial["id"], [{"destination_0": tel()}] * 120))
    path = targets_path(outdial["id"])
    for size in ("0", "-5", "101", "100000000000000000000"):
        page = ok(client.get(path, params={"page_size": size}))
        assert len(page["result"]) == 100, size
        assert page["next_page_token"]
    assert len(ok(client.get(path))["result"]) == 100
    assert len(ok(client.get(path, params={"page_size": 7}))["result"]) == 7
    for size in ("ten", "1.5", ""):
        error = error_of(client.get(path, params={"page_size": size}), 400)
        assert error["message"].startswith("page_size:")


@SQLITE_ONLY
def test_a_page_token_the_service_did_not_issue_is_400(client: TestClient) -> None:
    outdial = create_outdial(client)
    for path in [targets_path(outdial["id"]), "/v1.0/outdials", "/v1.0/dials"]:
        error = error_of(client.get(path, params={"page_token": "forged"}), 400)
        assert (error["status"], error["reason"]) == ("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN")


def test_the_list_filters_by_status_and_leaves_out_deleted_unless_asked(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    idle, busy, gone = (create_target(client, outdial["id"], TEL_0) for _ in range(3))
    dial = ok(client.post(targets_path(outdial["id"], busy["id"]) + "/dials"))
    assert dial["outdial_target_id"] == busy["id"]
    ok(client.delete(targets_path(outdial["id"], gone["id"])))
    path = targets_path(outdial["id"])

    def ids(**params: Any) -> list[str]:
        return [t["id"] for t in ok(client.get(path, params=params))["result"]]

    assert ids() == [busy["id"], idle["id"]]
    assert ids(include_deleted="true") == [gone["id"], busy["id"], idle["id"]]
    assert ids(status="progressing") == [busy["id"]]
    assert ids(status="idle", include_deleted=True) == [gone["id"], idle["id"]]
    error = error_of(client.get(path, params={"status": "asleep"}), 400)
    assert error["message"].startswith("status:")


@SQLITE_ONLY
def test_a_deleted_target_stays_readable_and_deleting_again_records_nothing(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    target = create_target(client, outdial["id"], TEL_0)
    path = targets_path(outdial["id"], target["id"])
    deleted = ok(client.delete(path))
    assert deleted["tm_delete"] != NOT_DELETED
    assert deleted["tm_update"] == deleted["tm_delete"]
    assert ok(client.delete(path)) == deleted
    assert ok(client.get(path)) == deleted
    assert len(ok(client.get(path + "/events"))["result"]) == 2
    error = error_of(client.post(path + "/dials"), 409)
    assert (error["status"], error["reason"]) == ("FAILED_PRECONDITION", "TARGET_NOT_DIALABLE")


def test_the_state_at_a_version_or_a_time_is_replayed_from_the_events(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    created = create_target(client, outdial["id"], TEL_0, TEL_1)
    path = targets_path(outdial["id"], created["id"])
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    finish(client, dial, "fail", "busy")
    now = ok(client.get(path))
    assert ok(client.get(path, params={"version": 1})) == created
    assert ok(client.get(path, params={"version": 2}))["status"] == "progressing"
    assert ok(client.get(path, params={"version": 3})) == now
    assert ok(client.get(path, params={"at": created["tm_create"]})) == created
    assert ok(client.get(path, params={"at": now["tm_update"]})) == now
    iso = now["tm_update"].replace(" ", "T") + "+00:00"
    assert ok(client.get(path, params={"at": iso})) == now


@SQLITE_ONLY
def test_a_version_past_the_last_or_a_time_before_creation_is_404(client: TestClient) -> None:
    outdial = create_outdial(client)
    target = create_target(client, outdial["id"], TEL_0)
    path = targets_path(outdial["id"], target["id"])
    for params in [{"version": 2}, {"at": "2000-01-01 00:00:00.000000"}]:
        error = error_of(client.get(path, params=params), 404)
        assert (error["status"], error["reason"]) == ("NOT_FOUND", "VERSION_NOT_FOUND")
    for params, field in [
        ({"version": 0}, "version"),
        ({"version": "last"}, "version"),
        ({"at": "yesterday"}, "at"),
        ({"at": "0001-01-01T00:00:00+01:00"}, "at"),
        ({"version": 1, "at": target["tm_create"]}, "at"),
    ]:
        error = error_of(client.get(path, params=params), 400)
        assert error["message"].startswith(f"{field}:"), error


@SQLITE_ONLY
def test_a_target_of_another_outdial_or_none_at_all_is_404(client: TestClient) -> None:
    first, second = create_outdial(client), create_outdial(client)
    target = create_target(client, first["id"], TEL_0)
    missing = "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"
    for path in [targets_path(second["id"], target["id"]), targets_path(first["id"], missing)]:
        for response in [
            client.get(path),
            client.delete(path),
            client.get(path + "/events"),
            client.get(path + "/replay"),
            client.get(path + "/dials"),
            client.post(path + "/dials"),
        ]:
            error = error_of(response, 404)
            assert error["reason"] == "OUTDIAL_TARGET_NOT_FOUND"
    assert ok(client.get(targets_path(first["id"], target["id"])))["id"] == target["id"]


@SQLITE_ONLY
def test_ids_in_the_path_that_are_not_uuids_are_400_invalid_id(client: TestClient) -> None:
    outdial = create_outdial(client)
    for method, path, field in [
        ("GET", "/v1.0/outdials/42", "outdial_id"),
        ("GET", targets_path(outdial["id"], "nope"), "target_id"),
        ("PUT", targets_path(outdial["id"], "nope") + "/dials/x", "target_id"),
        ("PUT", targets_path(outdial["id"], outdial["id"]) + "/dials/x", "dial_id"),
        ("GET", "/v1.0/dials?outdial_id=7", "outdial_id"),
    ]:
        error = error_of(client.request(method, path, json={"result": "fail"}), 400)
        assert (error["status"], error["reason"]) == ("INVALID_ARGUMENT", "INVALID_ID")
        assert error["message"].startswith(f"{field}:")


def test_creation_times_order_the_list_newest_first(client: TestClient) -> None:
    outdial = create_outdial(client)
    made = []
    for _ in range(3):
        made.append(create_target(client, outdial["id"], TEL_0)["id"])
        time.sleep(0.001)  # the behaviour: a later creation time lists first
    assert [t["id"] for t in ok(client.get(targets_path(outdial["id"])))["result"]] == made[::-1]
