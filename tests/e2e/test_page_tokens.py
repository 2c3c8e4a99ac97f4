"""Page tokens are the service's own: signed with a secret of the store, so a token minted
outside it is 400 INVALID_PAGE_TOKEN whatever it decodes to, never a 500."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.stores import Storage
from tests.conftest import on_postgres
from tests.e2e.conftest import app_on, bearer, create_outdial, error_of, new_key, ok

pytestmark = pytest.mark.shared_app


def _unkeyed(scope: str, moment: str, row_id: str) -> str:
    """A token as anyone could mint one while the check was an unkeyed hash with a salt
    written in the source."""
    body = json.dumps([moment, row_id], separators=(",", ":")).encode("utf-8", "surrogatepass")
    mac = hashlib.sha256(b"outdial-page-token-v1" + scope.encode() + b"\0" + body).digest()[:8]
    return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")


def _customer(app: FastAPI, key: str) -> str:
    customer = app.state.serving.services.keys.customer_of(key)
    return str(customer)


@pytest.mark.parametrize(
    ("moment", "row_id"),
    [
        ("2026-01-01 00:00:00.000000", "\ud800"),
        ("2026-01-01 00:00:00.000000", "a\x00b"),
        ("\ud800", "00000000-0000-0000-0000-000000000000"),
        ("2026-01-01 00:00:00.000000", "00000000-0000-0000-0000-000000000000"),
    ],
)
def test_a_minted_token_is_refused_whatever_it_holds(
    app: FastAPI, client: TestClient, key: str, moment: str, row_id: str
) -> None:
    create_outdial(client)
    forged = _unkeyed(f"outdials:{_customer(app, key)}", moment, row_id)
    error = error_of(client.get("/v1.0/outdials", params={"page_token": forged}), 400)
    assert error["reason"] == "INVALID_PAGE_TOKEN"
    assert client.get("/readyz").status_code == 200


GARBAGE = ["", "x", "AAAA", "%%%", "\x00", "a" * 5000, "2026-13-01 00:00:00", "+821100000001"]


# Each on SQLite; NUL, which PostgreSQL text cannot hold, on both.
@pytest.mark.parametrize(
    ("store", "token"), [*(("sqlite", t) for t in GARBAGE), on_postgres("\x00")]
)
def test_garbage_tokens_are_400_or_read_as_none(client: TestClient, token: str) -> None:
    response = client.get("/v1.0/outdials", params={"page_token": token})
    if token == "":
        ok(response)
        return
    assert error_of(response, 400)["reason"] in ("INVALID_PAGE_TOKEN", "INVALID_ARGUMENT")


def _pages(client: TestClient, path: str, **params: Any) -> tuple[list[str], str]:
    page = ok(client.get(path, params={"page_size": 2, **params}))
    return [item["id"] for item in page["result"]], page["next_page_token"]


def test_a_token_is_good_after_a_restart_and_nowhere_else(new_store: Any) -> None:
    first: Storage = new_store("sqlite")
    app = app_on(first)
    key = new_key(app)
    with TestClient(app, headers=bearer(key)) as client:
        for n in range(3):
            create_outdial(client, name=f"o{n}")
        shown, token = _pages(client, "/v1.0/outdials")
    assert token
    again = app_on(first)  # the same store, a new process's secret read from it
    with TestClient(again, headers=bearer(key)) as client:
        rest, _ = _pages(client, "/v1.0/outdials", page_token=token)
        assert len(rest) == 1
        assert not set(rest) & set(shown)
    # Another store, the same customer: the same list, but not this store's token.
    elsewhere = app_on(new_store("sqlite"))
    same_customer = elsewhere.state.serving.services.keys.create(UUID(_customer(app, key)))
    with TestClient(elsewhere, headers=bearer(same_customer)) as client:
        create_outdial(client)
        error = error_of(client.get("/v1.0/outdials", params={"page_token": token}), 400)
        assert error["reason"] == "INVALID_PAGE_TOKEN"
