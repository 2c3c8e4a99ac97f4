"""What every response shares: the request id, the error envelope, limits, probes, OpenAPI."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import OperationalError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.server import create_app
from projections import projection as projection_module
from projections import runner as runner_module
from projections.runner import LiveProjection
from tests.conftest import SQLITE_ONLY, eventually
from tests.e2e.conftest import (
    TEL_0,
    bearer,
    create_outdial,
    error_of,
    make_app,
    new_key,
    ok,
    serving_of,
)

MIB = 1024 * 1024

pytestmark = pytest.mark.shared_app


@SQLITE_ONLY
def test_every_response_echoes_the_callers_request_id(app: FastAPI, client: TestClient) -> None:
    anonymous = TestClient(app)
    for response in [
        client.post("/v1.0/outdials", json={}, headers={"X-Request-ID": "abc-123"}),
        client.get("/v1.0/outdials/nope", headers={"X-Request-ID": "abc-123"}),
        client.get("/nowhere", headers={"X-Request-ID": "abc-123"}),
        anonymous.get("/v1.0/outdials", headers={"X-Request-ID": "abc-123"}),
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}),
    ]:
        assert response.headers["x-request-id"] == "abc-123"
        if response.status_code >= 400:
            assert response.json()["error"]["request_id"] == "abc-123"


@SQLITE_ONLY
def test_without_a_request_id_each_response_gets_its_own(client: TestClient) -> None:
    first, second = client.get("/v1.0/outdials"), client.get("/nowhere")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert second.json()["error"]["request_id"] == second.headers["x-request-id"]


@SQLITE_ONLY
def test_an_unknown_route_is_404_route_not_found(client: TestClient) -> None:
    for path in ["/nowhere", "/v1.0/outdial", "/v2.0/outdials"]:
        error = error_of(client.get(path), 404)
        assert (error["status"], error["reason"]) == ("NOT_FOUND", "ROUTE_NOT_FOUND")


@SQLITE_ONLY
def test_a_wrong_method_is_405_invalid_argument(client: TestClient) -> None:
    outdial = create_outdial(client)
    for method, path, allow in [
        ("PATCH", "/v1.0/outdials", "GET, POST"),
        ("DELETE", "/v1.0/outdials", "GET, POST"),
        ("POST", f"/v1.0/outdials/{outdial['id']}", "DELETE, GET, PUT"),
        ("PUT", "/v1.0/dials", "GET"),
        # A literal segment names its own resource rather than a malformed id.
        ("GET", f"/v1.0/outdials/{outdial['id']}/targets/batch", "POST"),
    ]:
        response = client.request(method, path)
        error = error_of(response, 405)
        assert (error["status"], error["reason"]) == ("INVALID_ARGUMENT", "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == allow, (method, path)


@SQLITE_ONLY
def test_a_body_that_is_not_json_is_400_invalid_json_body(client: TestClient) -> None:
    json_type = {"content-type": "application/json"}
    for content in [b"{bad", b'{"name": "x",}', b"\xff\xfe", b"[1, 2"]:
        error = error_of(client.post("/v1.0/outdials", content=content, headers=json_type), 400)
        assert (error["status"], error["reason"]) == ("INVALID_ARGUMENT", "INVALID_JSON_BODY")


@SQLITE_ONLY
def test_a_body_of_the_wrong_shape_is_400_never_422(client: TestClient) -> None:
    for body in [[], "text", 5, None, {"name": 5}, {"name": []}, {"detail": {}}]:
        response = client.post("/v1.0/outdials", json=body)
        error_of(response, 400)
    error = error_of(client.post("/v1.0/outdials", content=b"name=x"), 400)
    assert error["status"] == "INVALID_ARGUMENT"


@SQLITE_ONLY
def test_a_body_over_one_mib_is_413_whether_declared_or_streamed(client: TestClient) -> None:
    too_big = b'{"data": "' + b"x" * MIB + b'"}'
    error = error_of(
        client.post(
            "/v1.0/outdials", content=too_big, headers={"content-type": "application/json"}
        ),
        413,
    )
    assert (error["status"], error["reason"]) == ("PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"data": "'
        for _ in range(20):
            yield b"x" * (64 * 1024)
        yield b'"}'

    response = client.post(
        "/v1.0/outdials", content=chunks(), headers={"content-type": "application/json"}
    )
    error = error_of(response, 413)
    assert error["reason"] == "PAYLOAD_TOO_LARGE"
    big_batch = {
        "targets": [
            {"data": "x" * 16_000, "destination_0": {"type": "tel", "target": "+821100000001"}}
        ]
        * 70
    }
    outdial = create_outdial(client)
    error_of(client.post(f"/v1.0/outdials/{outdial['id']}/targets/batch", json=big_batch), 413)


@pytest.mark.own_app  # its monkeypatch reaches into the app's services
@SQLITE_ONLY
def test_an_unexpected_failure_is_500_without_a_stack_trace(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(serving_of(app).services.read_model.queries, "page_outdials", broken)
    response = client.get("/v1.0/outdials", headers={"X-Request-ID": "trace-me"})
    error = error_of(response, 500)
    assert (error["status"], error["reason"]) == ("INTERNAL", "INTERNAL")
    assert "trace-me" in error["message"]
    assert "secret" not in response.text
    assert "Traceback" not in response.text


@pytest.mark.own_app  # its monkeypatch reaches into the app's services
@SQLITE_ONLY
def test_a_store_that_does_not_answer_is_503_not_500(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: object, **kwargs: object) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(serving_of(app).services.read_model.queries, "page_outdials", locked)
    error = error_of(client.get("/v1.0/outdials"), 503)
    assert (error["status"], error["reason"]) == ("UNAVAILABLE", "STORE_UNAVAILABLE")


@pytest.mark.own_app  # the store's position
def test_probes_answer_without_a_key(app: FastAPI, client: TestClient) -> None:
    create_outdial(client)
    anonymous = TestClient(app)
    assert ok(anonymous.get("/healthz")) == {"status": "ok"}
    ready = ok(anonymous.get("/readyz"))
    assert ready == {"status": "ready", "position": 1, "lag": 0}


def test_readyz_is_503_while_an_event_waits_too_long_for_the_read_model(tmp_path: Path) -> None:
    # No projection here: what is written waits; any wait at all is too long.
    app = make_app(tmp_path / "var", run_projections=False, ready_max_delay_seconds=0)
    with TestClient(app) as client:
        assert ok(client.get("/readyz"))["lag"] == 0  # nothing waits yet
        serving_of(app).services.service.create_outdial(uuid4())
        error = error_of(client.get("/readyz"), 503)
        assert (error["status"], error["reason"]) == ("UNAVAILABLE", "PROJECTION_LAGGING")
        assert "waited" in error["message"]


def test_writes_are_refused_before_storing_while_no_projection_is_active(tmp_path: Path) -> None:
    app = make_app(tmp_path / "var", run_projections=False)
    with TestClient(app, headers=bearer(new_key(app))) as client:
        serving_of(app).started_at -= runner_module.INACTIVE_AFTER_S  # past its grace
        events = serving_of(app).services.read_model
        head = events.head()
        response = client.post("/v1.0/outdials", json={"name": "x"})
        error = error_of(response, 503)
        assert (error["status"], error["reason"]) == ("UNAVAILABLE", "PROJECTION_INACTIVE")
        assert response.headers["retry-after"] == "5"
        assert events.head() == head  # nothing stored
        assert ok(client.get("/v1.0/outdials"))["result"] == []  # reads still answer


def test_a_process_has_its_grace_from_when_it_starts_serving(tmp_path: Path) -> None:
    """An app built long before it serves (at import, say) still has the grace its
    projection needs to become active: its first write is not refused."""
    app = make_app(tmp_path / "var", run_projections=False, read_wait_seconds=0.1)
    serving_of(app).started_at -= runner_module.INACTIVE_AFTER_S  # built long ago
    with TestClient(app, headers=bearer(new_key(app))) as client:
        assert client.post("/v1.0/outdials", json={"name": "x"}).status_code == 200


def test_readiness_and_writes_give_one_reason_for_one_state(tmp_path: Path) -> None:
    """No projection active: writes and /readyz both say PROJECTION_INACTIVE, whether or
    not an event waits."""
    app = make_app(tmp_path / "var", run_projections=False)
    with TestClient(app, headers=bearer(new_key(app))) as client:
        serving_of(app).services.service.create_outdial(uuid4())  # an event waits
        serving_of(app).started_at -= runner_module.INACTIVE_AFTER_S  # past its grace
        write = error_of(client.post("/v1.0/outdials", json={"name": "x"}), 503)
        ready = error_of(client.get("/readyz"), 503)
        assert write["reason"] == ready["reason"] == "PROJECTION_INACTIVE"


def test_a_write_whose_read_model_wait_timed_out_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write is durable, so it answers 200; the header says a read may not show it yet."""
    app = make_app(tmp_path / "var", run_projections=False, read_wait_seconds=0.1)
    with TestClient(app, headers=bearer(new_key(app))) as client:
        answer = client.post("/v1.0/outdials", json={"name": "x"})
        assert answer.status_code == 200
        assert answer.headers["x-read-model"] == "behind"
        assert ok(client.get("/v1.0/outdials"))["result"] == []


def test_a_write_the_read_model_shows_carries_no_read_model_header(client: TestClient) -> None:
    answer = client.post("/v1.0/outdials", json={"name": "x"})
    assert answer.status_code == 200
    assert "x-read-model" not in answer.headers


def test_readyz_is_503_while_the_projection_keeps_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_fail(rows: object, event: object) -> None:
        raise RuntimeError("bad row")

    monkeypatch.setattr(projection_module, "outdial_created", always_fail)
    app = make_app(tmp_path / "var", read_wait_seconds=0.1)
    with TestClient(app) as client:
        client.post("/v1.0/outdials", json={"name": "x"}, headers=bearer(new_key(app)))
        eventually(lambda: projection_of(app).stuck, what="stuck")
        error = error_of(client.get("/readyz"), 503)
        assert (error["status"], error["reason"]) == ("UNAVAILABLE", "PROJECTION_FAILING")
        assert "bad row" in error["message"]


@pytest.mark.own_app  # the process's counters
def test_metrics_count_requests_by_route_template_and_show_the_store(
    app: FastAPI, client: TestClient
) -> None:
    outdial = create_outdial(client)
    client.get(f"/v1.0/outdials/{outdial['id']}")
    client.get("/nowhere")
    text = TestClient(app).get("/metrics").text
    route = 'route="/v1.0/outdials/{outdial_id}"'
    assert f'outdial_http_requests_total{{method="GET",{route},status="200"}} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "outdial_http_request_duration_seconds_bucket" in text
    assert "outdial_events_appended_total 1.0" in text
    assert "outdial_projection_position 1.0" in text
    assert "outdial_projection_lag 0.0" in text
    # One write (the outdial), saved alone: one event-store transaction.
    assert "outdial_event_store_transactions_total 1.0" in text
    assert "outdial_event_store_writes_total 1.0" in text


@SQLITE_ONLY
def test_openapi_documents_every_operation_with_its_key_and_its_errors(
    client: TestClient,
) -> None:
    document = ok(client.get("/openapi.json"))
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    v1 = [(p, m, o) for p, m, o in operations if p.startswith("/v1.0")]
    # 13 outdial, 5 target, 7 dialing, 2 history, 5 do-not-call, 2 feed, 4 webhook
    # (docs/api.md)
    assert len(v1) == 41
    for path, method, operation in v1:
        assert "422" not in operation["responses"], (path, method)
        assert {"bearer", "token", "accesskey"} <= {
            name for requirement in operation["security"] for name in requirement
        }
        for code in ("400", "401"):
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
        answer = operation["responses"]["200"]["content"]
        if path == "/v1.0/events/stream":
            assert "text/event-stream" in answer
        else:
            assert answer["application/json"]["schema"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    target = document["components"]["schemas"]["TargetOut"]
    assert list(target["properties"])[:6] == [
        "id",
        "outdial_id",
        "name",
        "detail",
        "data",
        "status",
    ]
    assert client.get("/docs").status_code == 200


@pytest.mark.own_app  # a second process opens its store
def test_a_customer_made_by_another_key_store_process_is_seen_without_restart(
    app: FastAPI, client: TestClient
) -> None:
    """`outdial keys create` may run while the service runs on the same store."""
    # A second app on the same store, as another process would open it; its stores close
    # with its lifespan (left open, the collector closed them in some thread).
    sibling = create_app(serving_of(app).settings)
    with TestClient(sibling):
        key = new_key(sibling)
    assert ok(client.get("/v1.0/outdials", headers=bearer(key)))["result"] == []


def projection_of(app: FastAPI) -> LiveProjection:
    worker = serving_of(app).worker
    assert worker is not None
    return worker.projection


@SQLITE_ONLY
@pytest.mark.parametrize(
    "query",
    [
        "/v1.0/outdials?page_size=0.0",
        "/v1.0/outdials?page_size=1e2",
        "/v1.0/outdials/{outdial}/available?limit=5.0",
        "/v1.0/outdials/{outdial}/available?max_try_count_0=1.0",
        "/v1.0/outdials/{outdial}/targets/{target}?version=1.0",
    ],
)
def test_a_number_in_a_query_must_be_a_whole_number_as_text(client: TestClient, query: str) -> None:
    """pydantic alone reads the text "0.0" as 0; the description says integer."""
    outdial = ok(client.post("/v1.0/outdials", json={}))["id"]
    target = ok(
        client.post(f"/v1.0/outdials/{outdial}/targets", json={"destination_0": {"target": TEL_0}})
    )["id"]
    answer = client.get(query.format(outdial=outdial, target=target))
    assert answer.status_code == 400, answer.text
    assert "whole number" in answer.json()["error"]["message"]


def test_a_write_blocked_by_another_processs_sqlite_lock_is_503_within_the_timeout(
    tmp_path: Path,
) -> None:
    """Another process holds the event store's write lock (an import, a stuck tool): the
    write answers 503 after connect_timeout_seconds, not after half a minute."""
    app = make_app(tmp_path / "var", connect_timeout_seconds=1.0)
    key = new_key(app)
    with TestClient(app, headers=bearer(key)) as client:
        create_outdial(client)
        blocker = sqlite3.connect(tmp_path / "var" / "events.sqlite3", isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            began = time.monotonic()
            answer = client.post("/v1.0/outdials", json={"name": "blocked"})
            waited = time.monotonic() - began
        finally:
            blocker.close()
        error = error_of(answer, 503)
        assert error["reason"] == "STORE_UNAVAILABLE"
        assert waited < 5, waited
        assert ok(client.post("/v1.0/outdials", json={"name": "free"}))["name"] == "free"


@SQLITE_ONLY
@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-www-form-urlencoded", "text/plain; charset=utf-8"],
)
def test_a_json_body_sent_as_curl_d_sends_it_is_read_as_json(
    client: TestClient, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    made = client.post("/v1.0/outdials", content=b'{"name": "from curl"}', headers=headers)
    assert ok(made)["name"] == "from curl"


@SQLITE_ONLY
@pytest.mark.parametrize("query", ["destination=a&destination=b", "page_size=1&page_size=2"])
def test_a_parameter_given_twice_is_400_naming_it(client: TestClient, query: str) -> None:
    error = error_of(client.get(f"/v1.0/dials?{query}"), 400)
    assert error["reason"] == "INVALID_ARGUMENT"
    assert error["message"] == f"{query.split('=')[0]}: is given more than once"
