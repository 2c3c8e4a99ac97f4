"""VoIPbin's own clients against this service with the bodies they send: what they write
and list on each store, what is refused on SQLite.

The bodies are byte for byte what VoIPbin's Go SDK (`voipbin-go`) marshals from its request
structs (every field always present, keys in alphabetical order, an unset destination as
`{}`) and what VoIPbin's CLI (`vn`) sends: its SDK-based version sends the SDK's bytes; its
map-based versions send `destination_0` with only a `target`, `"data": null` or `--data`
parsed as JSON, and `update` with only the flags given. Both authenticate with
`?accesskey=KEY`. Every answer must decode into the SDK's models (tests/e2e/voipbin_sdk.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import error_of, new_key, ok
from tests.e2e.voipbin_sdk import LIST_ITEMS, decode_problems, missing_fields

pytestmark = pytest.mark.shared_app

NO_CAMPAIGN = "00000000-0000-0000-0000-000000000000"
CAMPAIGN = "00000000-0000-0000-0000-000000000001"
TEL = "+821100000001"
JSON = {"Content-Type": "application/json"}

# What the SDK's structs marshal to (Go's encoding/json, no trailing newline).
SDK_OUTDIAL_ZERO = b'{"campaign_id":"","data":"","detail":"","name":""}'
SDK_OUTDIAL_FILLED = (
    b'{"campaign_id":"00000000-0000-0000-0000-000000000001","data":"test data",'
    b'"detail":"outdial for test use.","name":"test outdial"}'
)
SDK_TARGET_ZERO = (
    b'{"data":"","destination_0":{},"destination_1":{},"destination_2":{},'
    b'"destination_3":{},"destination_4":{},"detail":"","name":""}'
)
# `vn outdials create-target X --name t1 --destination-0 +821100000001`, SDK-based CLI.
SDK_TARGET_NUMBER_ONLY = (
    b'{"data":"","destination_0":{"target":"+821100000001"},"destination_1":{},'
    b'"destination_2":{},"destination_3":{},"destination_4":{},"detail":"","name":"t1"}'
)
SDK_TARGET_TEL = (
    b'{"data":"test data","destination_0":{"target":"+821100000001","type":"tel"},'
    b'"destination_1":{},"destination_2":{},"destination_3":{},"destination_4":{},'
    b'"detail":"test detail","name":"test destination 0"}'
)
# The map-based CLI's create-target, and its create with --data unset or given as JSON.
CLI_TARGET = b'{"data":null,"destination_0":{"target":"+821100000001"},"detail":"","name":"t1"}'
CLI_TARGET_OLD_KEY = (
    b'{"data":"","destination0":{"target":"+821100000001"},"detail":"","name":"t1"}'
)


class VoipbinClient:
    """Sends raw bodies the way VoIPbin's clients do: JSON, key in ?accesskey=."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.client = client
        self.key = key

    def send(self, method: str, path: str, body: bytes | None = None, **params: Any) -> Any:
        return self.client.request(
            method,
            "/v1.0" + path,
            content=body,
            headers=JSON if body is not None else None,
            params={"accesskey": self.key, **params},
        )


@pytest.fixture
def vn(app: FastAPI) -> Iterator[VoipbinClient]:
    key = new_key(app)
    with TestClient(app) as client:
        yield VoipbinClient(client, key)


def decoded(response: Any, model: str) -> Any:
    """The answer of a 200, checked to decode into the SDK's model with every field set."""
    body = ok(response)
    assert response.headers["content-type"].startswith("application/json")
    assert decode_problems(body, model) == []
    item_model = LIST_ITEMS.get(model)
    for item in body["result"] if item_model else [body]:
        assert missing_fields(item, item_model or model) == set()
    return body


def outdial(vn: VoipbinClient, body: bytes = SDK_OUTDIAL_ZERO) -> Any:
    return decoded(vn.send("POST", "/outdials", body), "OutdialManagerOutdial")


def target(vn: VoipbinClient, outdial_id: str, body: bytes) -> Any:
    path = f"/outdials/{outdial_id}/targets"
    return decoded(vn.send("POST", path, body), "OutdialManagerOutdialtarget")


# -- outdials ---------------------------------------------------------------------------


def test_sdk_create_without_a_campaign_sends_an_empty_campaign_id(vn: VoipbinClient) -> None:
    made = outdial(vn, SDK_OUTDIAL_ZERO)
    assert (made["campaign_id"], made["name"], made["detail"], made["data"]) == (
        NO_CAMPAIGN,
        "",
        "",
        "",
    )
    filled = outdial(vn, SDK_OUTDIAL_FILLED)
    assert (filled["campaign_id"], filled["name"]) == (CAMPAIGN, "test outdial")
    assert (filled["detail"], filled["data"]) == ("outdial for test use.", "test data")


@SQLITE_ONLY
def test_sdk_updates_of_an_outdial(vn: VoipbinClient) -> None:
    made = outdial(vn, SDK_OUTDIAL_FILLED)
    path = f"/outdials/{made['id']}"
    changed = decoded(vn.send("PUT", path, b'{"detail":"d","name":"n"}'), "OutdialManagerOutdial")
    assert (changed["name"], changed["detail"]) == ("n", "d")
    cleared = decoded(vn.send("PUT", path, b'{"detail":"","name":""}'), "OutdialManagerOutdial")
    assert (cleared["name"], cleared["detail"]) == ("", "")
    detached = decoded(
        vn.send("PUT", path + "/campaign_id", b'{"campaign_id":""}'), "OutdialManagerOutdial"
    )
    assert detached["campaign_id"] == NO_CAMPAIGN
    attached = vn.send("PUT", path + "/campaign_id", f'{{"campaign_id":"{CAMPAIGN}"}}'.encode())
    assert decoded(attached, "OutdialManagerOutdial")["campaign_id"] == CAMPAIGN
    data = decoded(vn.send("PUT", path + "/data", b'{"data":"test data"}'), "OutdialManagerOutdial")
    assert data["data"] == "test data"
    assert decoded(vn.send("GET", path), "OutdialManagerOutdial") == data
    gone = decoded(vn.send("DELETE", path), "OutdialManagerOutdial")
    assert gone["tm_delete"] != "9999-01-01 00:00:00.000000"


def test_cli_create_sends_data_as_null_or_json_and_update_only_the_flags_given(
    vn: VoipbinClient,
) -> None:
    unset = outdial(
        vn, b'{"campaign_id":"' + CAMPAIGN.encode() + b'","data":null,"detail":"","name":"o1"}'
    )
    assert unset["data"] == ""
    as_object = outdial(
        vn, b'{"campaign_id":"' + CAMPAIGN.encode() + b'","data":{},"detail":"","name":"o1"}'
    )
    assert as_object["data"] == "{}"
    parsed = outdial(
        vn,
        b'{"campaign_id":"'
        + CAMPAIGN.encode()
        + b'","data":{"tier":"gold","n":[1,2]},"detail":"","name":"o1"}',
    )
    assert json.loads(parsed["data"]) == {"tier": "gold", "n": [1, 2]}
    path = f"/outdials/{parsed['id']}"
    named = decoded(vn.send("PUT", path, b'{"name":"n"}'), "OutdialManagerOutdial")
    assert (named["name"], named["detail"]) == ("n", "")
    described = decoded(vn.send("PUT", path, b'{"detail":"d"}'), "OutdialManagerOutdial")
    assert (described["name"], described["detail"]) == ("n", "d")
    untouched = decoded(vn.send("PUT", path, b"{}"), "OutdialManagerOutdial")
    assert (untouched["name"], untouched["detail"]) == ("n", "d")
    text = decoded(vn.send("PUT", path + "/data", b'{"data":"x"}'), "OutdialManagerOutdial")
    assert text["data"] == "x"
    moved = vn.send("PUT", path + "/campaign_id", f'{{"campaign_id":"{NO_CAMPAIGN}"}}'.encode())
    assert decoded(moved, "OutdialManagerOutdial")["campaign_id"] == NO_CAMPAIGN


@SQLITE_ONLY
def test_a_campaign_id_that_is_neither_empty_nor_a_uuid_is_400_naming_it(
    vn: VoipbinClient,
) -> None:
    error = error_of(
        vn.send("POST", "/outdials", b'{"campaign_id":"c1","data":"","detail":"","name":"o1"}'),
        400,
    )
    assert error["message"].startswith("campaign_id:")


# -- targets ----------------------------------------------------------------------------


@SQLITE_ONLY
def test_sdk_create_target_sends_unset_destinations_as_empty_objects(vn: VoipbinClient) -> None:
    made = outdial(vn)
    with_type = target(vn, made["id"], SDK_TARGET_TEL)
    number_only = target(vn, made["id"], SDK_TARGET_NUMBER_ONLY)
    for created in (with_type, number_only):
        assert created["destination_0"] == {
            "type": "tel",
            "target": TEL,
            "target_name": "",
            "name": "",
            "detail": "",
        }
        assert [created[f"destination_{n}"] for n in range(1, 5)] == [None] * 4
        assert [created[f"try_count_{n}"] for n in range(5)] == [0] * 5
        assert created["status"] == "idle"
    assert (with_type["name"], with_type["detail"], with_type["data"]) == (
        "test destination 0",
        "test detail",
        "test data",
    )


@SQLITE_ONLY
def test_an_sdk_target_with_every_destination_unset_is_400_naming_destination_0(
    vn: VoipbinClient,
) -> None:
    made = outdial(vn)
    error = error_of(vn.send("POST", f"/outdials/{made['id']}/targets", SDK_TARGET_ZERO), 400)
    assert error["message"].startswith("destination_0:")
    all_empty = SDK_TARGET_ZERO.replace(
        b'"destination_2":{}', b'"destination_2":{"target":"","type":"","name":""}'
    )
    error = error_of(vn.send("POST", f"/outdials/{made['id']}/targets", all_empty), 400)
    assert error["message"].startswith("destination_0:")


@SQLITE_ONLY
def test_cli_create_target_sends_the_number_alone_and_data_null(vn: VoipbinClient) -> None:
    made = outdial(vn)
    created = target(vn, made["id"], CLI_TARGET)
    assert created["destination_0"]["type"] == "tel"
    assert (created["name"], created["data"]) == ("t1", "")


@SQLITE_ONLY
def test_a_destination_without_type_that_is_not_e164_is_400_naming_its_type(
    vn: VoipbinClient,
) -> None:
    made = outdial(vn)
    path = f"/outdials/{made['id']}/targets"
    for cell in [b'{"target":"alice@example.com"}', b'{"target":"01012345678","type":""}']:
        body = SDK_TARGET_ZERO.replace(b'"destination_3":{}', b'"destination_3":' + cell)
        error = error_of(vn.send("POST", path, body), 400)
        assert error["message"].startswith("destination_3.type:"), error


@SQLITE_ONLY
def test_the_oldest_cli_key_destination0_is_400_naming_it(vn: VoipbinClient) -> None:
    """VoIPbin itself ignores `destination0` and refuses the target for having none."""
    made = outdial(vn)
    error = error_of(vn.send("POST", f"/outdials/{made['id']}/targets", CLI_TARGET_OLD_KEY), 400)
    assert error["message"] == "destination0: is not a field of this body"


def test_answers_for_every_address_type_the_sdk_knows_decode_into_its_models(
    vn: VoipbinClient,
) -> None:
    made = outdial(vn)
    uuid = "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"
    for kind, value in [
        ("tel", TEL),
        ("sip", "alice@example.com"),
        ("email", "bob@example.com"),
        ("extension", "2001"),
        ("line", "main"),
        ("agent", uuid),
        ("conference", uuid),
    ]:
        cell = json.dumps({"target": value, "type": kind}, separators=(",", ":")).encode()
        body = SDK_TARGET_ZERO.replace(b'"destination_1":{}', b'"destination_1":' + cell)
        created = target(vn, made["id"], body)
        assert (created["destination_1"]["type"], created["destination_1"]["target"]) == (
            kind,
            value,
        )
        path = f"/outdials/{made['id']}/targets/{created['id']}"
        assert decoded(vn.send("GET", path), "OutdialManagerOutdialtarget") == created
    gone = decoded(vn.send("DELETE", path), "OutdialManagerOutdialtarget")
    assert gone["status"] == "idle"
    listed = decoded(
        vn.send("GET", f"/outdials/{made['id']}/targets", page_size=10), "OutdialtargetList"
    )
    assert len(listed["result"]) == 6  # the deleted one is left out


# -- lists ------------------------------------------------------------------------------


def test_a_timestamp_page_token_lists_what_was_created_strictly_before_it(
    vn: VoipbinClient,
) -> None:
    made = [outdial(vn) for _ in range(3)]
    oldest, middle, newest = made
    listed = decoded(vn.send("GET", "/outdials", page_size=10), "OutdialList")
    assert [o["id"] for o in listed["result"]] == [newest["id"], middle["id"], oldest["id"]]
    iso = middle["tm_create"].replace(" ", "T") + "Z"
    for token in (middle["tm_create"], iso):
        before = decoded(vn.send("GET", "/outdials", page_token=token), "OutdialList")
        assert [o["id"] for o in before["result"]] == [oldest["id"]]
        assert before["next_page_token"] == ""
    later = "9999-01-01 00:00:00.000000"
    everything = decoded(vn.send("GET", "/outdials", page_token=later, page_size=2), "OutdialList")
    assert [o["id"] for o in everything["result"]] == [newest["id"], middle["id"]]
    # The next page continues with the service's own token, which never skips.
    rest = decoded(
        vn.send("GET", "/outdials", page_token=everything["next_page_token"]), "OutdialList"
    )
    assert [o["id"] for o in rest["result"]] == [oldest["id"]]


def test_a_timestamp_page_token_skips_items_sharing_that_time_as_voipbin_does(
    vn: VoipbinClient,
) -> None:
    made = outdial(vn)
    single = target(vn, made["id"], SDK_TARGET_NUMBER_ONLY)
    batch = {"targets": [{"destination_0": {"target": TEL}}] * 3}
    shared = ok(
        vn.send("POST", f"/outdials/{made['id']}/targets/batch", json.dumps(batch).encode())
    )["result"]
    path = f"/outdials/{made['id']}/targets"
    page = decoded(vn.send("GET", path, page_token=shared[0]["tm_create"]), "OutdialtargetList")
    assert [t["id"] for t in page["result"]] == [single["id"]]


@SQLITE_ONLY
def test_a_malformed_time_token_is_still_400_invalid_page_token(vn: VoipbinClient) -> None:
    for token in ["2022-13-01 00:00:00.000000", "2022-04-30 17:52", "yesterday"]:
        error = error_of(vn.send("GET", "/outdials", page_token=token), 400)
        assert error["reason"] == "INVALID_PAGE_TOKEN", token


@SQLITE_ONLY
def test_the_openapi_description_shows_what_voipbins_clients_may_send(vn: VoipbinClient) -> None:
    schemas = ok(vn.client.get("/openapi.json"))["components"]["schemas"]
    address = schemas["AddressIn"]
    assert "required" not in address  # {} is an unset destination
    assert "" in address["properties"]["type"]["enum"]
    campaign = schemas["OutdialIn"]["properties"]["campaign_id"]
    assert {"type": "string", "enum": [""]} in campaign["anyOf"]
    assert "required" not in schemas["OutdialUpdateIn"]
