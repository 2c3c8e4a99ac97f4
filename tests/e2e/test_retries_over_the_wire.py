"""Retries after the connection was cut before the answer, against a real server: the
client never saw the first answer, repeats with the same Idempotency-Key, and finds
nothing created twice and no target left dialing by a lost dispatch answer."""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from adapters.stores import Storage
from tests.conftest import eventually
from tests.e2e.test_processes import _key, _start, _until_up, running

TEL = "+821100000001"

# Several real processes each: for `make test`, not the inner loop.
pytestmark = pytest.mark.slow


def _send_and_hang_up(url: str, path: str, body: bytes, headers: dict[str, str]) -> None:
    """Send the whole request, then close the connection without reading a byte."""
    parts = urlsplit(url)
    lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((parts.hostname, parts.port)) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def _retry_until_answered(
    client: httpx.Client, path: str, body: bytes, idempotency_key: str
) -> httpx.Response:
    headers = {"Idempotency-Key": idempotency_key, "Content-Type": "application/json"}

    def answered() -> httpx.Response | None:
        answer = client.post(path, content=body, headers=headers)
        return None if answer.status_code == 409 and "IN_PROGRESS" in answer.text else answer

    return eventually(answered, timeout=60, interval=0.2, what="answered")


def test_retries_after_a_cut_connection_create_nothing_twice(
    store: str, new_store: Callable[[str], Storage]
) -> None:
    storage = new_store(store)
    server = _start(storage, "serve")
    with running(server):
        _until_up(server)
        key = _key(storage)
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=auth, timeout=30) as client:
            outdial = client.post("/v1.0/outdials", json={}).json()["id"]
            targets = f"/v1.0/outdials/{outdial}/targets"
            tel = {"destination_0": {"target": TEL}}
            one = client.post(targets, json=tel).json()["id"]
            cases = [
                ("batch", f"{targets}/batch", {"targets": [tel] * 50}),
                ("dial", f"{targets}/{one}/dials", {"reference_id": "call-1"}),
                ("dispatch", f"/v1.0/outdials/{outdial}/dispatch", {"limit": 10}),
            ]
            for name, path, payload in cases:
                body = orjson.dumps(payload)
                headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": name}
                _send_and_hang_up(server.url, path, body, headers)
                answer = _retry_until_answered(client, path, body, name)
                assert answer.status_code == 200, answer.text

            listed = client.get(targets, params={"page_size": 100}).json()["result"]
            assert len(listed) == 1 + 50  # the batch once
            dials = client.get("/v1.0/dials", params={"page_size": 100}).json()["result"]
            assert len(dials) == 1 + 10  # the dial once, one dispatch of 10
            assert len({d["outdial_target_id"] for d in dials}) == 11  # no target twice
            progressing = [d for d in dials if d["status"] == "progressing"]
            dispatched = _retry_until_answered(
                client,
                f"/v1.0/outdials/{outdial}/dispatch",
                orjson.dumps({"limit": 10}),
                "dispatch",
            ).json()["result"]
            # Every dial left progressing is one the caller holds an answer for.
            held = {d["id"] for d in dispatched} | {
                d["id"] for d in dials if d["reference_id"] == "call-1"
            }
            assert {d["id"] for d in progressing} == held
