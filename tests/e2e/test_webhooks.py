"""A customer's webhook over HTTP: made, changed and deleted; told each matching event in
order, signed, in batches, at least once across failures; never pointed at a private
address unless the service allows it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.stores import Storage
from tests.conftest import SQLITE_ONLY, eventually
from tests.e2e.conftest import (
    TEL_0,
    app_on,
    bearer,
    create_outdial,
    create_target,
    error_of,
    new_key,
    ok,
    targets_path,
)
from tests.e2e.live import Receiver

HOOK = "/v1.0/webhook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def hooked(storage: Storage) -> Iterator[TestClient]:
    """A customer of an app that may deliver to this machine's own addresses."""
    app = app_on(storage, webhook_allow_private=True)
    with TestClient(app, headers=bearer(new_key(app))) as client:
        yield client


def _verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    parts = dict(part.split("=", 1) for part in headers["x-outdial-signature"].split(","))
    signed = parts["t"].encode() + b"." + body
    assert parts["v1"] == hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def test_a_webhook_is_made_changed_and_deleted(hooked: TestClient, receiver: Receiver) -> None:
    assert error_of(hooked.get(HOOK), 404)["reason"] == "WEBHOOK_NOT_FOUND"
    made = ok(hooked.put(HOOK, json={"url": receiver.url}))
    assert made["secret"].startswith("whsec_")
    assert (made["status"], made["types"], made["outdial_id"]) == ("active", None, None)
    read = ok(hooked.get(HOOK))
    assert read == {**made, "secret": None}
    outdial = create_outdial(hooked)
    changed = ok(
        hooked.put(
            HOOK,
            json={
                "url": receiver.url + "?v=2",
                "types": ["Target.DialFinished"],
                "outdial_id": outdial["id"],
            },
        )
    )
    assert changed["secret"] == made["secret"]
    assert changed["types"] == ["Target.DialFinished"]
    assert changed["outdial_id"] == outdial["id"]
    assert ok(hooked.delete(HOOK))["url"] == receiver.url + "?v=2"
    assert error_of(hooked.delete(HOOK), 404)["reason"] == "WEBHOOK_NOT_FOUND"
    again = ok(hooked.put(HOOK, json={"url": receiver.url}))
    assert again["secret"] != made["secret"]
    metrics = hooked.get("/metrics").text
    assert "outdial_webhooks 1.0" in metrics
    assert "outdial_webhooks_failing 0.0" in metrics


def test_events_after_it_was_made_are_posted_in_order_and_signed(
    hooked: TestClient, receiver: Receiver
) -> None:
    before = create_outdial(hooked)  # made before the webhook: not told
    made = ok(hooked.put(HOOK, json={"url": receiver.url}))
    assert made["position"] >= 1
    outdial = create_outdial(hooked)
    targets = [create_target(hooked, outdial["id"], TEL_0)["id"] for _ in range(3)]
    path = targets_path(outdial["id"], targets[0])
    dial = ok(hooked.post(path + "/dials"))
    ok(hooked.put(path + f"/dials/{dial['id']}", json={"result": "success"}))
    eventually(lambda: len(receiver.events()) >= 6, what="six events delivered")
    events = receiver.events()
    assert [e["type"] for e in events] == [
        "Outdial.Created",
        "Target.Created",
        "Target.Created",
        "Target.Created",
        "Target.DialStarted",
        "Target.DialFinished",
    ]
    assert before["id"] not in {e["aggregate_id"] for e in events}
    positions = [e["position"] for e in events]
    assert positions == sorted(set(positions))
    for received in receiver.received:
        _verify(made["secret"], received.headers, received.body)
        assert received.headers["content-type"] == "application/json"
    eventually(lambda: ok(hooked.get(HOOK))["position"] == positions[-1], what="position moved on")
    log = ok(hooked.get(HOOK + "/deliveries"))["result"]
    assert {d["id"] for d in log} == {r.headers["x-outdial-delivery"] for r in receiver.received}
    assert all(d["status_code"] == 200 and d["error"] == "" for d in log)
    assert log[0]["to_position"] == positions[-1]


def test_a_failing_receiver_is_retried_and_told_everything_in_order(
    hooked: TestClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pauses' lengths are the rules' (tests/integration/test_webhook_rules.py); here
    # they are short so the retries come soon.
    monkeypatch.setattr("application.webhooks.RETRY_FIRST_S", 0.1)
    ok(hooked.put(HOOK, json={"url": receiver.url}))
    receiver.fail(2, status=503)
    outdial = create_outdial(hooked)
    made = [create_target(hooked, outdial["id"], TEL_0)["id"] for _ in range(3)]
    eventually(lambda: len(receiver.events()) >= 4, timeout=20, what="delivered after retries")
    events = receiver.events()
    assert [e["aggregate_id"] for e in events[1:]] == made
    log = ok(hooked.get(HOOK + "/deliveries"))["result"]
    failed = [d for d in log if d["status_code"] == 503]
    assert len(failed) == 2
    assert all(d["error"] == "answered 503" for d in failed)
    assert failed[0]["from_position"] == events[0]["position"]
    assert ok(hooked.get(HOOK))["status"] == "active"


def test_a_webhook_is_told_only_its_types_and_outdial(
    hooked: TestClient, receiver: Receiver
) -> None:
    mine, other = create_outdial(hooked), create_outdial(hooked)
    body = {"url": receiver.url, "types": ["Target.DialStarted"], "outdial_id": mine["id"]}
    ok(hooked.put(HOOK, json=body))
    for outdial in (other, mine):
        target = create_target(hooked, outdial["id"], TEL_0)
        ok(hooked.post(targets_path(outdial["id"], target["id"]) + "/dials"))
    eventually(lambda: receiver.events(), what="one event delivered")
    (started,) = receiver.events()
    assert (started["type"], started["outdial_id"]) == ("Target.DialStarted", mine["id"])


@SQLITE_ONLY  # refused before the store is asked
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://example.com/x", "types": ["Target.Dialed"]}, "types"),
        ({"url": "http://example.com/x", "outdial_id": "nope"}, "outdial_id"),
        ({}, "url"),
        ({"url": "http://example.com/x", "secret": "mine"}, "secret"),
    ],
)
def test_a_bad_webhook_is_400_naming_the_field(
    hooked: TestClient, body: dict[str, Any], field: str
) -> None:
    error = error_of(hooked.put(HOOK, json=body), 400)
    assert field in error["message"]


def test_another_customers_outdial_is_not_found(hooked: TestClient, receiver: Receiver) -> None:
    app = hooked.app
    with TestClient(app, headers=bearer(new_key(app))) as theirs:  # type: ignore[arg-type]
        their_outdial = create_outdial(theirs)
    refused = hooked.put(HOOK, json={"url": receiver.url, "outdial_id": their_outdial["id"]})
    assert error_of(refused, 404)["reason"] == "OUTDIAL_NOT_FOUND"
    assert error_of(hooked.get(HOOK), 404)["reason"] == "WEBHOOK_NOT_FOUND"


@SQLITE_ONLY  # refused before the store is asked
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_a_private_or_loopback_address_is_refused_by_default(client: TestClient, url: str) -> None:
    error = error_of(client.put(HOOK, json={"url": url}), 400)
    assert "OUTDIAL_WEBHOOK_ALLOW_PRIVATE" in error["message"]
    assert error_of(client.get(HOOK), 404)["reason"] == "WEBHOOK_NOT_FOUND"


@SQLITE_ONLY
def test_a_delivery_still_queued_when_its_target_is_erased_goes_out_blank(
    hooked: TestClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("application.webhooks.RETRY_FIRST_S", 0.05)
    monkeypatch.setattr("application.webhooks.RETRY_MAX_S", 0.1)
    number, name = "+821055504321", "Min-seo Yoon"
    ok(hooked.put(HOOK, json={"url": receiver.url}))
    receiver.fail(1_000_000, status=503)  # nothing is delivered until the erasure
    outdial = create_outdial(hooked)
    body = {"name": name, "destination_0": {"type": "tel", "target": number}}
    target = ok(hooked.post(targets_path(outdial["id"]), json=body))
    ok(hooked.post("/v1.0/erasures", json={"target_ids": [target["id"]]}))
    receiver.fail(0)
    eventually(
        lambda: any(e["type"] == "Erasure.Recorded" for e in receiver.events()),
        timeout=20,
        what="delivered after the erasure",
    )
    created = next(e for e in receiver.events() if e["type"] == "Target.Created")
    assert created["erased"] is True
    assert created["data"]["name"] == ""
    assert all(
        number not in r.body.decode() and name not in r.body.decode() for r in receiver.received
    )
