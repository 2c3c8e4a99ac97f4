"""Retries are safe: a creating POST repeated with the same Idempotency-Key answers what
the first answered and records nothing new, across restarts and after the answer was
lost; the same key with another body is 409."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import application.idempotency as idempotency_module
from application.idempotency import IdempotencyKeys
from tests.conftest import SQLITE_ONLY, on_postgres
from tests.e2e.conftest import (
    TEL_0,
    app_on,
    bearer,
    create_outdial,
    create_target,
    error_of,
    ok,
    serving_of,
    targets_path,
)

pytestmark = pytest.mark.shared_app

Request = tuple[str, dict[str, Any]]  # (path, body)


def _requests(client: TestClient) -> dict[str, Callable[[], Request]]:
    """Each creating POST, as a function making a fresh (path, body) for it."""
    outdial = create_outdial(client)["id"]
    target = create_target(client, outdial, TEL_0)["id"]
    for _ in range(3):
        create_target(client, outdial, TEL_0)
    tel = {"destination_0": {"type": "tel", "target": TEL_0}}
    return {
        "outdial": lambda: ("/v1.0/outdials", {"name": "campaign"}),
        "target": lambda: (targets_path(outdial), tel),
        "batch": lambda: (targets_path(outdial) + "/batch", {"targets": [tel, tel, tel]}),
        "dial": lambda: (targets_path(outdial, target) + "/dials", {"reference_id": "call-1"}),
        "dispatch": lambda: (f"/v1.0/outdials/{outdial}/dispatch", {"limit": 2}),
    }


def _state(client: TestClient) -> Any:
    """Everything the customer has: outdials, targets, dials (what a repeat must not grow)."""
    outdials = ok(client.get("/v1.0/outdials", params={"page_size": 100}))["result"]
    targets = [
        t
        for o in outdials
        for t in ok(client.get(targets_path(o["id"]), params={"page_size": 100}))["result"]
    ]
    dials = ok(client.get("/v1.0/dials", params={"page_size": 100}))["result"]
    return sorted(o["id"] for o in outdials), sorted(t["id"] for t in targets), dials


KINDS = ["outdial", "target", "batch", "dial", "dispatch"]


def every_kind_and_on_postgres(*kinds: str) -> list[Any]:
    """Every kind on SQLite; ``kinds`` on PostgreSQL too, whose table of keys is another."""
    return [*(("sqlite", kind) for kind in KINDS), *(on_postgres(kind) for kind in kinds)]


@pytest.mark.parametrize(("store", "kind"), every_kind_and_on_postgres("batch", "dispatch"))
def test_a_repeat_answers_the_first_answer_and_records_nothing(
    client: TestClient, kind: str
) -> None:
    path, body = _requests(client)[kind]()
    headers = {"Idempotency-Key": f"retry-{kind}"}
    first = client.post(path, json=body, headers=headers)
    assert first.status_code == 200, first.text
    before = _state(client)
    for _ in range(3):
        again = client.post(path, json=body, headers=headers)
        assert again.status_code == 200
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
    assert _state(client) == before
    # Without the key, the same request creates anew.
    if kind in ("outdial", "target", "batch"):
        assert client.post(path, json=body).json() != first.json()


@pytest.mark.parametrize(("store", "kind"), every_kind_and_on_postgres("target"))
def test_the_same_key_for_another_request_is_409(client: TestClient, kind: str) -> None:
    path, body = _requests(client)[kind]()
    headers = {"Idempotency-Key": "one-key"}
    ok(client.post(path, json=body, headers=headers))
    other = {
        "outdial": {"name": "other"},
        "target": {**body, "name": "other"},
        "batch": {"targets": body.get("targets", [])[:1]},
        "dial": {"reference_id": "call-2"},
        "dispatch": {"limit": 1},
    }[kind]
    error = error_of(client.post(path, json=other, headers=headers), 409)
    assert error["reason"] == "IDEMPOTENCY_KEY_REUSED"
    assert error["status"] == "FAILED_PRECONDITION"


def test_keys_are_the_customers_own(app: FastAPI, client: TestClient, other_key: str) -> None:
    headers = {"Idempotency-Key": "shared-word"}
    mine = ok(client.post("/v1.0/outdials", json={"name": "a"}, headers=headers))
    with TestClient(app, headers=bearer(other_key)) as other:
        theirs = ok(other.post("/v1.0/outdials", json={"name": "a"}, headers=headers))
    assert theirs["id"] != mine["id"]
    assert theirs["customer_id"] != mine["customer_id"]


@SQLITE_ONLY
@pytest.mark.parametrize("bad", [b"", b"x" * 256, "caf\u00e9".encode(), b"a b", b"\x01"])
def test_a_malformed_key_is_400_naming_it(client: TestClient, bad: bytes) -> None:
    answer = client.post("/v1.0/outdials", json={}, headers=[(b"Idempotency-Key", bad)])
    error = error_of(answer, 400)
    assert error["message"].startswith("Idempotency-Key: ")
    assert ok(client.get("/v1.0/outdials"))["result"] == []


@pytest.mark.own_app  # it stops the app and starts another on its store
def test_a_repeat_after_a_restart_gets_the_same_answer(app: FastAPI, key: str) -> None:
    headers = {**bearer(key), "Idempotency-Key": "across-restarts"}
    with TestClient(app, headers=headers) as client:
        first = ok(client.post("/v1.0/outdials", json={"name": "once"}))
    restarted = app_on(serving_of(app).settings.storage())
    with TestClient(restarted, headers=headers) as client:
        again = ok(client.post("/v1.0/outdials", json={"name": "once"}))
        assert again == first
        assert len(ok(client.get("/v1.0/outdials"))["result"]) == 1


@pytest.mark.parametrize(("store", "kind"), every_kind_and_on_postgres("batch", "dispatch"))
def test_an_answer_lost_after_the_commit_is_given_by_the_repeat_without_a_second_write(
    client: TestClient, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process died between committing and keeping the answer: the claim stays
    unanswered; a repeat soon after is told to retry, and one after the take-over delay
    runs the command again with the same ids, which finds what the first created."""
    path, body = _requests(client)[kind]()
    headers = {"Idempotency-Key": f"lost-{kind}"}
    before = _state(client)
    real_answer = IdempotencyKeys.answer

    def dies_before_keeping_it(*args: Any) -> None:
        msg = "the process died here"
        raise SystemError(msg)

    monkeypatch.setattr(IdempotencyKeys, "answer", dies_before_keeping_it)
    assert client.post(path, json=body, headers=headers).status_code == 500
    after_first = _state(client)
    assert after_first != before  # the command did commit
    monkeypatch.setattr(IdempotencyKeys, "answer", real_answer)

    soon = error_of(client.post(path, json=body, headers=headers), 409)
    assert soon["reason"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert soon["status"] == "ABORTED"

    monkeypatch.setattr(idempotency_module, "TAKE_OVER_AFTER_S", 0.0)
    repeat = ok(client.post(path, json=body, headers=headers))
    assert _state(client) == after_first  # nothing created twice, no target dialed twice
    again = client.post(path, json=body, headers=headers)
    assert again.json() == repeat
    assert again.headers["Idempotent-Replayed"] == "true"
    if kind == "dispatch":
        progressing = [
            d for d in ok(client.get("/v1.0/dials"))["result"] if d["status"] == "progressing"
        ]
        assert sorted(d["id"] for d in progressing) == sorted(d["id"] for d in repeat["result"])


@SQLITE_ONLY
def test_a_refused_request_releases_its_key_for_a_corrected_one(client: TestClient) -> None:
    outdial = create_outdial(client)["id"]
    headers = {"Idempotency-Key": "fix-and-retry"}
    path = targets_path(outdial)
    refused = client.post(path, json={"destination_0": {"target": "nope"}}, headers=headers)
    assert refused.status_code == 400
    # Same key, the corrected body: not "reused", since the refusal created nothing.
    ok(client.post(path, json={"destination_0": {"target": TEL_0}}, headers=headers))


@SQLITE_ONLY
@pytest.mark.parametrize(
    "refused_body",
    [
        {"destination_0": {"type": "tel", "target": TEL_0}, "colour": "red"},  # an unknown field
        {"destination_0": {"type": "tel", "target": TEL_0}, "name": "n" * 256},  # too long
        {"destination_0": {"type": "tel", "target": TEL_0}, "name": 5},  # not a string
    ],
)
def test_a_body_the_schema_refuses_releases_its_key_too(
    client: TestClient, refused_body: dict[str, Any]
) -> None:
    """The body is checked as the key is claimed: a refusal there created nothing either."""
    outdial = create_outdial(client)["id"]
    headers = {"Idempotency-Key": f"schema-{len(str(refused_body))}"}
    path = targets_path(outdial)
    assert client.post(path, json=refused_body, headers=headers).status_code == 400
    ok(client.post(path, json={"destination_0": {"target": TEL_0}}, headers=headers))
