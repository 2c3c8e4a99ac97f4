"""Text every store holds the same: a control character (other than tab, newline and
carriage return) or a lone surrogate in any string field or filter is a 400 naming the
field, nothing is stored, and the read model keeps moving. PostgreSQL refuses NUL in
text, so before this rule one such write stopped its read model for every customer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SQLITE_ONLY, on_postgres
from tests.e2e.conftest import TEL_0, create_outdial, create_target, error_of, ok, targets_path

pytestmark = pytest.mark.shared_app

# C0 controls, DEL and C1 controls (U+0080-U+009F) alike.
BAD = ["a\x00b", "\x07", "x\x1b[31m", "\x7f\x1f", "a\x7fb", "a\x85b", "\x9f"]


def _refused(response: Any, field: str) -> None:
    error = error_of(response, 400)
    assert error["reason"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(f"{field}: "), error["message"]


def _still_moving(client: TestClient) -> None:
    """A good write after the bad ones is stored, listed, and the service is ready."""
    outdial = create_outdial(client, name="after")
    listed = ok(client.get("/v1.0/outdials", params={"page_size": 100}))["result"]
    assert outdial["id"] in {o["id"] for o in listed}
    assert client.get("/readyz").status_code == 200


# Every character on SQLite; NUL, which PostgreSQL text cannot hold, on both.
@pytest.mark.parametrize(("store", "bad"), [*(("sqlite", b) for b in BAD), on_postgres("a\x00b")])
@pytest.mark.parametrize("field", ["name", "detail", "data"])
def test_outdial_text_fields(client: TestClient, field: str, bad: str) -> None:
    before = ok(client.get("/v1.0/outdials"))["result"]
    _refused(client.post("/v1.0/outdials", json={field: bad}), field)
    assert ok(client.get("/v1.0/outdials"))["result"] == before
    outdial = create_outdial(client, name="kept")
    if field != "data":
        _refused(client.put(f"/v1.0/outdials/{outdial['id']}", json={field: bad}), field)
        assert ok(client.get(f"/v1.0/outdials/{outdial['id']}"))["name"] == "kept"
    _still_moving(client)


@pytest.mark.parametrize(
    ("store", "body", "field"),
    [
        ("sqlite", {"name": "\x00"}, "name"),
        on_postgres({"name": "\x00"}, "name"),
        ("sqlite", {"detail": "\x00"}, "detail"),
        ("sqlite", {"data": "\x00"}, "data"),
        (
            "sqlite",
            {"destination_0": {"type": "tel", "target": TEL_0, "target_name": "\x00"}},
            None,
        ),
        ("sqlite", {"destination_0": {"type": "tel", "target": TEL_0, "name": "a\x0bb"}}, None),
        ("sqlite", {"destination_0": {"type": "tel", "target": TEL_0, "detail": "\x1f"}}, None),
        ("sqlite", {"destination_0": {"type": "sip", "target": "a\x00@b.example"}}, None),
        on_postgres({"destination_0": {"type": "sip", "target": "a\x00@b.example"}}, None),
    ],
)
def test_target_text_fields(client: TestClient, body: dict[str, Any], field: str | None) -> None:
    outdial = create_outdial(client)
    path = targets_path(outdial["id"])
    body = {"destination_0": {"type": "tel", "target": TEL_0}, **body}
    if field is None:  # an address field
        bad = next(
            k for k, v in body["destination_0"].items() if "\x00" in v or "\x0b" in v or "\x1f" in v
        )
        field = f"destination_0.{bad}"
    _refused(client.post(path, json=body), field)
    _refused(
        client.post(
            path + "/batch", json={"targets": [{"destination_0": {"target": TEL_0}}, body]}
        ),
        f"targets[1].{field}",
    )
    assert ok(client.get(path))["result"] == []
    _still_moving(client)


def test_a_lone_surrogate_is_refused_like_a_control_character(client: TestClient) -> None:
    raw = b'{"name": "a\\ud800b"}'
    headers = {"Content-Type": "application/json"}
    _refused(client.post("/v1.0/outdials", content=raw, headers=headers), "name")
    _still_moving(client)


def test_tab_newline_and_carriage_return_are_text(client: TestClient) -> None:
    outdial = create_outdial(client, name="a\tb", detail="line\r\nline", data="{\n}")
    assert (outdial["name"], outdial["detail"], outdial["data"]) == ("a\tb", "line\r\nline", "{\n}")


def test_dial_reference_id_and_finish_reason(client: TestClient) -> None:
    outdial = create_outdial(client)
    target = create_target(client, outdial["id"], TEL_0)
    dials = targets_path(outdial["id"], target["id"]) + "/dials"
    _refused(client.post(dials, json={"reference_id": "call\x00"}), "reference_id")
    assert ok(client.get(dials))["result"] == []
    dial = ok(client.post(dials, json={"reference_id": "call-1"}))
    finish = f"{dials}/{dial['id']}"
    _refused(client.put(finish, json={"result": "fail", "reason": "busy\x00"}), "reason")
    assert ok(client.get(dials))["result"][0]["status"] == "progressing"
    ok(client.put(finish, json={"result": "fail", "reason": "busy"}))
    _still_moving(client)


@pytest.mark.parametrize("name", ["destination", "reference_id"])
def test_audit_filters(client: TestClient, name: str) -> None:
    _refused(client.get("/v1.0/dials", params={name: "+82\x00"}), name)
    assert ok(client.get("/v1.0/dials", params={name: "+82\t"}))["result"] == []


def test_the_audit_search_finds_a_dial_by_the_callers_reference_id(client: TestClient) -> None:
    outdial = create_outdial(client)
    target = create_target(client, outdial["id"], TEL_0)
    dials = targets_path(outdial["id"], target["id"]) + "/dials"
    dial = ok(client.post(dials, json={"reference_id": "call-7"}))
    found = ok(client.get("/v1.0/dials", params={"reference_id": "call-7"}))["result"]
    assert [d["id"] for d in found] == [dial["id"]]
    assert ok(client.get("/v1.0/dials", params={"reference_id": "call-8"}))["result"] == []


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("destination", "field"),
    [
        ({"type": "tel", "target": TEL_0 + "\n"}, "destination_0.target"),
        ({"type": "sip", "target": "a@b.c\n"}, "destination_0.target"),
        ({"type": "sip", "target": "u\u202eb@b.c"}, "destination_0.target"),
        ({"target": TEL_0 + "\n"}, "destination_0.type"),
    ],
)
def test_an_address_target_is_matched_whole(
    client: TestClient, destination: dict[str, str], field: str
) -> None:
    outdial = create_outdial(client)
    path = targets_path(outdial["id"])
    _refused(client.post(path, json={"destination_0": destination}), field)
    assert ok(client.get(path))["result"] == []
    _still_moving(client)
