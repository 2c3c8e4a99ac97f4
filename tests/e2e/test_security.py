"""Guessing keys is throttled per client address, valid keys never are; every answer
says nosniff and the API's answers are never cached; no log line holds a key."""

from __future__ import annotations

import io
import logging

from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.stores import Storage
from api.access import FAILURES_ALLOWED, WINDOW_S
from api.logs import RedactSecrets, redact
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import app_on, bearer, error_of, ok


@SQLITE_ONLY  # the count is the store's: shared on each kind of store below
def test_failed_authentication_is_throttled_per_address_but_never_a_valid_key(
    app: FastAPI, client: TestClient, key: str
) -> None:
    guesser = TestClient(app)
    for n in range(FAILURES_ALLOWED):
        wrong = {"Authorization": f"Bearer odk_wrong{n}"} if n % 2 else {}  # missing counts
        assert guesser.get("/v1.0/outdials", headers=wrong).status_code == 401
    refused = guesser.get("/v1.0/outdials", headers=bearer("odk_wrong"))
    error = error_of(refused, 429)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW_S
    # The right key from the same address still works, at once and every time.
    for _ in range(3):
        ok(client.get("/v1.0/outdials"))
    assert guesser.get("/v1.0/outdials", params={"token": key}).status_code == 200
    # Still refused without one.
    assert guesser.get("/v1.0/outdials", params={"token": "odk_x"}).status_code == 429


def test_every_api_process_of_a_store_shares_one_failure_count(storage: Storage) -> None:
    """Two processes on one store allow 20 failures from an address between them, not 40:
    the count lives in the store, not in a process."""
    first, second = app_on(storage), app_on(storage)
    with TestClient(first) as one, TestClient(second) as other:
        answers = [
            (one if n % 2 else other).get("/v1.0/outdials", headers=bearer(f"odk_wrong{n}"))
            for n in range(FAILURES_ALLOWED + 5)
        ]
    statuses = [answer.status_code for answer in answers]
    assert statuses == [401] * FAILURES_ALLOWED + [429] * 5


@SQLITE_ONLY
def test_every_answer_says_nosniff_and_api_answers_are_not_cached(
    app: FastAPI, client: TestClient
) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        answer = client.get(path)
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "no-store" not in answer.headers.get("cache-control", "")
    for answer in (
        client.get("/v1.0/outdials"),
        client.post("/v1.0/outdials", json={"name": 5}),  # errors too
        TestClient(app).get("/v1.0/outdials"),  # and refusals
        client.get("/v1.0/nothing-here"),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"


def test_no_log_line_holds_a_key() -> None:
    key = "odk_" + "A1b2_-" * 7
    assert key not in redact(f"GET /v1.0/outdials?page_size=5&token={key} 200")
    assert "page_size=5" in redact(f"GET /v1.0/outdials?page_size=5&token={key}")
    assert key not in redact(f"accesskey={key}&x=1")
    assert key not in redact(f"Authorization: Bearer {key}")
    assert key not in redact(f"someone sent {key} in a name")

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("request %s failed", f"/v1.0/outdials?token={key}")
        try:
            raise ValueError(f"bad key {key}")
        except ValueError:
            logger.exception("while handling ?accesskey=%s", key)
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert key not in logged
    assert "token=[redacted]" in logged
    assert "ValueError" in logged
