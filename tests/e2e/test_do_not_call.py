"""The do-not-call list over HTTP: what only the wire shows (status codes, the fields a 400
names, another customer's entries as 404, Idempotency-Key, the entry's events), and that an
add answered before a dispatch keeps that dispatch off the number. The rules themselves are
tested where they live (tests/unit/test_contact_rules.py); the console's import and export in
test_do_not_call_console.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import (
    NOT_DELETED,
    TEL_0,
    TEL_1,
    bearer,
    create_outdial,
    create_target,
    dispatch,
    error_of,
    ok,
    targets_path,
)

pytestmark = pytest.mark.shared_app

LIST = "/v1.0/do_not_call"
EVERY_OUTDIAL = "00000000-0000-0000-0000-000000000000"
ENTRY_FIELDS = [
    "id",
    "target",
    "match",
    "outdial_id",
    "reason",
    "expires_at",
    "actor",
    "tm_create",
    "tm_update",
    "tm_delete",
]


def add(client: TestClient, *entries: dict[str, Any], **headers: str) -> list[dict[str, Any]]:
    added: list[dict[str, Any]] = ok(
        client.post(LIST, json={"entries": list(entries)}, headers=headers)
    )["result"]
    return added


def listed(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(client.get(LIST, params=params))["result"]
    return found


def in_a_day() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S.%f")


def test_entries_are_added_listed_read_removed_and_their_events_kept(client: TestClient) -> None:
    outdial = create_outdial(client)["id"]
    expiry = in_a_day()
    exact, prefix, scoped = add(
        client,
        {"target": TEL_0, "reason": "asked on the phone"},
        {"target": "+8211", "match": "prefix", "expires_at": expiry},
        {"target": "alice@example.com", "outdial_id": outdial},
    )
    assert list(exact) == ENTRY_FIELDS
    assert exact["actor"].startswith("kid_")
    assert (exact["match"], exact["outdial_id"], exact["reason"], exact["expires_at"]) == (
        "exact",
        EVERY_OUTDIAL,
        "asked on the phone",
        None,
    )
    assert (exact["tm_update"], exact["tm_delete"]) == (exact["tm_create"], NOT_DELETED)
    assert (prefix["match"], prefix["expires_at"], prefix["reason"]) == ("prefix", expiry, "")
    assert scoped["outdial_id"] == outdial

    for entry in (exact, prefix, scoped):
        assert ok(client.get(f"{LIST}/{entry['id']}")) == entry
    everything = listed(client)
    assert sorted(e["id"] for e in everything) == sorted(e["id"] for e in (exact, prefix, scoped))
    # The entries that block a number now: its exact entry and every prefix of it.
    assert {e["id"] for e in listed(client, target=TEL_0)} == {exact["id"], prefix["id"]}
    assert {e["id"] for e in listed(client, target=TEL_1)} == {prefix["id"]}
    assert listed(client, target="+19995550000") == []
    assert [e["id"] for e in listed(client, target="alice@example.com")] == [scoped["id"]]
    assert [e["id"] for e in listed(client, outdial_id=outdial)] == [scoped["id"]]

    removed = ok(client.delete(f"{LIST}/{exact['id']}"))
    assert removed["tm_delete"] != NOT_DELETED
    assert removed["tm_update"] == removed["tm_delete"]
    assert ok(client.delete(f"{LIST}/{exact['id']}")) == removed  # again: the same record
    assert ok(client.get(f"{LIST}/{exact['id']}")) == removed  # readable by id
    assert exact["id"] not in {e["id"] for e in listed(client)}
    assert exact["id"] in {e["id"] for e in listed(client, include_deleted=True)}
    assert {e["id"] for e in listed(client, target=TEL_0)} == {prefix["id"]}

    [again] = add(client, {"target": TEL_0})  # added again: same id, live, reason kept
    assert (again["id"], again["tm_delete"], again["reason"]) == (
        exact["id"],
        NOT_DELETED,
        "asked on the phone",
    )
    events = ok(client.get(f"{LIST}/{exact['id']}/events"))["result"]
    assert [(e["version"], e["type"]) for e in events] == [
        (1, "Added"),
        (2, "Removed"),
        (3, "Changed"),
    ]
    assert all(list(e) == ["version", "type", "timestamp", "data"] for e in events)
    assert events[0]["data"]["target"] == TEL_0
    assert events[0]["timestamp"] == exact["tm_create"]
    assert events[1]["timestamp"] == removed["tm_delete"]
    assert {e["data"]["actor"] for e in events} == {exact["actor"]}


@SQLITE_ONLY
def test_a_repeated_add_changes_what_it_sends_and_keeps_what_it_leaves_out(
    client: TestClient,
) -> None:
    expiry = in_a_day()
    [first] = add(client, {"target": TEL_0, "reason": "asked", "expires_at": expiry})
    assert add(client, {"target": TEL_0}) == [first]  # nothing sent, nothing changed
    [kept] = add(client, {"target": TEL_0, "reason": "asked twice"})
    assert (kept["reason"], kept["expires_at"]) == ("asked twice", expiry)
    [never] = add(client, {"target": TEL_0, "expires_at": None, "reason": None})
    assert (never["reason"], never["expires_at"]) == ("", None)
    events = ok(client.get(f"{LIST}/{first['id']}/events"))["result"]
    assert [e["type"] for e in events] == ["Added", "Changed", "Changed"]
    # Given with a zone in ISO 8601, an expiry reads back as a wire time in UTC.
    later = datetime.now(UTC) + timedelta(days=2)
    [zoned] = add(client, {"target": TEL_1, "expires_at": later.astimezone().isoformat()})
    assert zoned["expires_at"] == later.strftime("%Y-%m-%d %H:%M:%S.%f")


def test_an_add_answered_before_a_dispatch_keeps_that_dispatch_off_the_number(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)["id"]
    blocked = create_target(client, outdial, TEL_0)
    free = create_target(client, outdial, TEL_1)
    [entry] = add(client, {"target": TEL_0, "reason": "asked"})

    dialed = ok(dispatch(client, outdial, limit=2))["result"]
    assert [d["outdial_target_id"] for d in dialed] == [free["id"]]
    path = targets_path(outdial, blocked["id"])
    assert error_of(client.post(path + "/dials"), 409)["reason"] == "TARGET_NOT_DIALABLE"
    judged = ok(client.get(path + "/availability"))
    assert judged["blocked_by"] == [
        {
            "rule": "ON_DO_NOT_CALL",
            "message": judged["blocked_by"][0]["message"],
            "entries": [entry["id"]],
        }
    ]
    assert judged["next_destination"] is None
    assert ok(client.get(f"/v1.0/outdials/{outdial}/available"))["result"] == []
    assert ok(client.get("/v1.0/dials", params={"destination": TEL_0}))["result"] == []

    ok(client.delete(f"{LIST}/{entry['id']}"))  # removed: dialable again
    [again] = ok(dispatch(client, outdial, limit=2))["result"]
    assert again["outdial_target_id"] == blocked["id"]


@SQLITE_ONLY
def test_another_customers_entries_are_not_found_and_never_listed(
    client: TestClient, other_key: str
) -> None:
    [entry] = add(client, {"target": TEL_0})
    theirs = bearer(other_key)
    for method, tail in [("GET", ""), ("DELETE", ""), ("GET", "/events")]:
        answer = client.request(method, f"{LIST}/{entry['id']}{tail}", headers=theirs)
        refused = error_of(answer, 404)
        assert (refused["status"], refused["reason"]) == (
            "NOT_FOUND",
            "DO_NOT_CALL_ENTRY_NOT_FOUND",
        )
    assert ok(client.get(LIST, headers=theirs))["result"] == []
    assert ok(client.get(LIST, params={"target": TEL_0}, headers=theirs))["result"] == []
    assert ok(client.get(f"{LIST}/{entry['id']}"))["tm_delete"] == NOT_DELETED  # still theirs
    missing = str(uuid4())
    assert error_of(client.get(f"{LIST}/{missing}/events"), 404)["reason"] == (
        "DO_NOT_CALL_ENTRY_NOT_FOUND"
    )
    assert error_of(client.get(f"{LIST}/not-an-id"), 400)["reason"] == "INVALID_ID"
    # Their outdial is no scope of mine.
    their_outdial = ok(client.post("/v1.0/outdials", json={}, headers=theirs))["id"]
    refused = error_of(
        client.post(LIST, json={"entries": [{"target": TEL_0, "outdial_id": their_outdial}]}), 400
    )
    assert refused["details"][0]["field"] == "entries[0].outdial_id"


PAST = "2020-01-01 00:00:00.000000"


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("entries", "field"),
    [
        ([], "entries"),
        ([{"target": TEL_0}] * 1001, "entries"),
        ([{"target": TEL_0}, {"target": "+12"}], "entries[1].target"),
        ([{"target": TEL_0 + "\n"}], "entries[0].target"),
        ([{"target": "+1", "match": "prefix"}], "entries[0].target"),
        ([{"target": "alice@example.com", "match": "prefix"}], "entries[0].target"),
        ([{"target": "x" * 256}], "entries[0].target"),
        ([{"target": TEL_0, "match": "fuzzy"}], "entries[0].match"),
        ([{"target": TEL_0, "reason": "x" * 256}], "entries[0].reason"),
        ([{"target": TEL_0, "reason": "a\x7fb"}], "entries[0].reason"),
        ([{"target": TEL_0, "expires_at": PAST}], "entries[0].expires_at"),
        ([{"target": TEL_0, "expires_at": "tomorrow"}], "entries[0].expires_at"),
        ([{"target": TEL_0, "outdial_id": str(uuid4())}], "entries[0].outdial_id"),
        ([{"target": TEL_0, "outdial_id": "x"}], "entries[0].outdial_id"),
        ([{"target": TEL_0, "scope": "all"}], "entries[0].scope"),
    ],
)
def test_an_entry_that_breaks_a_rule_is_400_naming_it_and_nothing_is_added(
    client: TestClient, entries: list[dict[str, Any]], field: str
) -> None:
    refused = error_of(client.post(LIST, json={"entries": entries}), 400)
    assert refused["status"] == "INVALID_ARGUMENT"
    assert refused["details"][0]["field"] == field, refused
    assert listed(client, include_deleted=True) == []


@SQLITE_ONLY
def test_a_list_filter_follows_the_text_rule_and_paging(client: TestClient) -> None:
    refused = error_of(client.get(LIST, params={"target": "+8211\x00"}), 400)
    assert refused["details"][0]["field"] == "target"
    add(client, *({"target": f"+82110000{n:04d}"} for n in range(5)))
    first = ok(client.get(LIST, params={"page_size": 2}))
    second = ok(client.get(LIST, params={"page_size": 2, "page_token": first["next_page_token"]}))
    third = ok(client.get(LIST, params={"page_size": 2, "page_token": second["next_page_token"]}))
    seen = [e["id"] for page in (first, second, third) for e in page["result"]]
    assert len(seen) == len(set(seen)) == 5
    assert third["next_page_token"] == ""
    other = error_of(
        client.get(LIST, params={"target": TEL_0, "page_token": first["next_page_token"]}), 400
    )
    assert other["reason"] == "INVALID_PAGE_TOKEN"


@SQLITE_ONLY
def test_an_add_with_an_idempotency_key_answers_once(client: TestClient) -> None:
    body = {"entries": [{"target": TEL_0, "reason": "asked"}]}
    first = client.post(LIST, json=body, headers={"Idempotency-Key": "dnc-1"})
    [entry] = ok(first)["result"]
    ok(client.post(LIST, json={"entries": [{"target": TEL_0, "reason": "changed"}]}))
    repeat = client.post(LIST, json=body, headers={"Idempotency-Key": "dnc-1"})
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.content == first.content  # the first answer, not the entry now
    events = ok(client.get(f"{LIST}/{entry['id']}/events"))["result"]
    assert [e["type"] for e in events] == ["Added", "Changed"]  # the repeat recorded nothing
    reused = client.post(
        LIST, json={"entries": [{"target": TEL_1}]}, headers={"Idempotency-Key": "dnc-1"}
    )
    assert error_of(reused, 409)["reason"] == "IDEMPOTENCY_KEY_REUSED"
    # A refused add frees its key for the corrected request.
    bad = {"entries": [{"target": "+12"}]}
    assert client.post(LIST, json=bad, headers={"Idempotency-Key": "dnc-2"}).status_code == 400
    good = client.post(
        LIST, json={"entries": [{"target": TEL_1}]}, headers={"Idempotency-Key": "dnc-2"}
    )
    assert ok(good)["result"][0]["target"] == TEL_1
