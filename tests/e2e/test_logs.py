"""One log line per request (request id, route template, status, duration, customer, never
a key), as text or as JSON, from the server as users run it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.stores import Storage
from api.logs import JSONLines, RedactSecrets, Text
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import create_outdial
from tests.e2e.test_processes import _key, _start, _until_up, running


@SQLITE_ONLY
def test_each_request_is_one_line_with_its_route_template_and_no_key(
    client: TestClient, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    outdial = create_outdial(client)["id"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="outdial.requests"):
        answer = client.get(f"/v1.0/outdials/{outdial}", params={"token": key})
        client.get("/nowhere")
    lines = [r for r in caplog.records if r.name == "outdial.requests"]
    assert len(lines) == 2
    first = lines[0]
    assert (first.route, first.status, first.method) == ("/v1.0/outdials/{outdial_id}", 200, "GET")  # type: ignore[attr-defined]
    assert first.request_id == answer.headers["x-request-id"]  # type: ignore[attr-defined]
    assert first.customer_id == answer.json()["customer_id"]  # type: ignore[attr-defined]
    assert first.duration_ms >= 0  # type: ignore[attr-defined]
    assert lines[1].route == "<unmatched>"  # type: ignore[attr-defined]
    redact = RedactSecrets()
    for formatter in (Text("%(message)s"), JSONLines()):
        for record in lines:
            redact.filter(record)
            assert key not in formatter.format(record)
    as_json = json.loads(JSONLines().format(first))
    assert as_json["route"] == "/v1.0/outdials/{outdial_id}"
    assert as_json["status"] == 200


@pytest.mark.slow
@SQLITE_ONLY
def test_serve_writes_json_lines_when_asked(
    store: str, new_store: Callable[[str], Storage]
) -> None:
    storage = new_store(store)
    server = _start(storage, "serve", "--log-format", "json")
    with running(server):
        _until_up(server)
        key = _key(storage)
        httpx.post(f"{server.url}/v1.0/outdials", params={"accesskey": key}, json={})
    err = server.stderr()
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines, err
    assert key not in err
    requests = [line for line in lines if line.get("route") == "/v1.0/outdials"]
    assert [(r["method"], r["status"]) for r in requests] == [("POST", 200)]
    assert requests[0]["request_id"].startswith("req_")
