"""Dialing over HTTP: available, dispatch, start, finish, a target's dials, the audit search."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SQLITE_ONLY, FakeClock, eventually
from tests.e2e.conftest import (
    DEFAULT_PLAN,
    TEL_0,
    TEL_1,
    WIRE_TIME,
    bearer,
    create_outdial,
    create_target,
    dispatch,
    error_of,
    finish,
    make_app,
    new_key,
    ok,
    set_plan,
    targets_path,
)

pytestmark = pytest.mark.shared_app

DIAL_FIELDS = [
    "id",
    "outdial_id",
    "outdial_target_id",
    "destination_index",
    "destination",
    "try_count",
    "reference_id",
    "status",
    "result",
    "reason",
    "plan",
    "time_zones",
    "tm_start",
    "tm_end",
    "duration_ms",
    "actor",
    "manual",
]


def dials_of(client: TestClient, dial_or_target: dict[str, Any]) -> list[dict[str, Any]]:
    outdial_id = dial_or_target["outdial_id"]
    target_id = dial_or_target.get("outdial_target_id", dial_or_target["id"])
    result: list[dict[str, Any]] = ok(client.get(targets_path(outdial_id, target_id) + "/dials"))[
        "result"
    ]
    return result


def available_ids(client: TestClient, outdial_id: str, **params: Any) -> list[str]:
    page = ok(client.get(f"/v1.0/outdials/{outdial_id}/available", params=params))
    return [t["id"] for t in page["result"]]


def start_next(client: TestClient, outdial_id: str, target_id: str, how: str) -> dict[str, Any]:
    """One dial on the target: by the campaign engine's dispatch or an explicit start."""
    if how == "dispatch":
        (dispatched,) = ok(dispatch(client, outdial_id, limit=5))["result"]
        assert dispatched["outdial_target_id"] == target_id
        dial: dict[str, Any] = dispatched
        return dial
    started: dict[str, Any] = ok(client.post(targets_path(outdial_id, target_id) + "/dials"))
    return started


@SQLITE_ONLY
@pytest.mark.parametrize("how", ["start", "dispatch"])
def test_retries_walk_the_destinations_in_order_until_the_target_is_done(
    client: TestClient, how: str
) -> None:
    """max_try_count 2 and 1 dial destination 0, 0, then 1; then the target is done."""
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], max_try_count_0=2, max_try_count_1=1)
    target = create_target(client, outdial["id"], TEL_0, TEL_1)
    walk = []
    for _ in range(3):
        dial = start_next(client, outdial["id"], target["id"], how)
        walk.append((dial["destination_index"], dial["try_count"], dial["destination"]["target"]))
        after = finish(client, dial, "fail", "noanswer")
    assert walk == [(0, 1, TEL_0), (0, 2, TEL_0), (1, 1, TEL_1)]
    assert after["status"] == "done"
    assert [after[f"try_count_{n}"] for n in range(5)] == [2, 1, 0, 0, 0]
    assert ok(dispatch(client, outdial["id"], limit=5))["result"] == []
    assert available_ids(client, outdial["id"]) == []
    assert [d["try_count"] for d in dials_of(client, target)] == [1, 2, 1]  # newest first
    error = error_of(client.post(targets_path(outdial["id"], target["id"]) + "/dials"), 409)
    assert error["reason"] == "TARGET_NOT_DIALABLE"


@SQLITE_ONLY
def test_success_makes_the_target_done_at_once(client: TestClient) -> None:
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], max_try_count_0=3)
    target = create_target(client, outdial["id"], TEL_0)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    assert finish(client, dial, "success", "normal")["status"] == "done"
    assert ok(client.get(targets_path(outdial["id"], target["id"])))["status"] == "done"


def test_a_dial_answer_is_what_the_dials_list_then_shows(client: TestClient) -> None:
    outdial = create_outdial(client)
    target = create_target(client, outdial["id"], TEL_0)
    dial = ok(
        client.post(
            targets_path(outdial["id"], target["id"]) + "/dials",
            json={"reference_id": "call-1", "plan": {"dial_timeout": 5000}},
        )
    )
    assert list(dial) == DIAL_FIELDS
    assert (dial["status"], dial["result"], dial["reason"]) == ("progressing", "", "")
    assert (dial["tm_end"], dial["duration_ms"]) == (None, None)
    assert dial["reference_id"] == "call-1"
    assert dial["plan"] == {**DEFAULT_PLAN, "dial_timeout": 5000}
    assert WIRE_TIME.match(dial["tm_start"])
    assert dials_of(client, dial) == [dial]
    finished_target = finish(client, dial, "fail", "busy")
    assert ok(client.get(targets_path(outdial["id"], target["id"]))) == finished_target
    (done,) = dials_of(client, dial)
    assert (done["status"], done["result"], done["reason"]) == ("done", "fail", "busy")
    assert done["tm_end"] >= done["tm_start"]
    assert isinstance(done["duration_ms"], int)
    assert done["duration_ms"] >= 0


@SQLITE_ONLY
def test_the_same_finish_again_is_a_no_op_and_another_result_is_409(client: TestClient) -> None:
    outdial = create_outdial(client)
    create_target(client, outdial["id"], TEL_0)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    first = finish(client, dial, "fail", "busy")
    assert finish(client, dial, "fail", "later words") == first
    path = targets_path(outdial["id"], dial["outdial_target_id"]) + f"/dials/{dial['id']}"
    error = error_of(client.put(path, json={"result": "success"}), 409)
    assert (error["status"], error["reason"]) == ("FAILED_PRECONDITION", "DIAL_ALREADY_FINISHED")


@SQLITE_ONLY
def test_finishing_a_dial_the_target_never_made_is_404(client: TestClient) -> None:
    outdial = create_outdial(client)
    target = create_target(client, outdial["id"], TEL_0)
    path = targets_path(outdial["id"], target["id"]) + "/dials/5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"
    error = error_of(client.put(path, json={"result": "fail"}), 404)
    assert (error["status"], error["reason"]) == ("NOT_FOUND", "DIAL_NOT_FOUND")


@SQLITE_ONLY
def test_a_finish_needs_a_known_result_and_cuts_long_reasons(client: TestClient) -> None:
    outdial = create_outdial(client)
    create_target(client, outdial["id"], TEL_0)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    path = targets_path(outdial["id"], dial["outdial_target_id"]) + f"/dials/{dial['id']}"
    for body in [{"result": "maybe"}, {}, {"result": "fail", "reason": 5}]:
        error = error_of(client.put(path, json=body), 400)
        assert error["message"].split(":")[0] in ("result", "reason")
    finish(client, dial, "fail", "a-reason-nobody-knows-" + "x" * 100)
    (done,) = dials_of(client, dial)
    assert done["reason"] == ("a-reason-nobody-knows-" + "x" * 100)[:64]


@SQLITE_ONLY
def test_an_explicit_start_may_name_the_destination_and_ignores_try_interval(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], max_try_count_0=2, try_interval=3_600_000)
    target = create_target(client, outdial["id"], TEL_0, TEL_1)
    path = targets_path(outdial["id"], target["id"]) + "/dials"
    first = ok(client.post(path, json={"destination_index": 1}))
    assert (first["destination_index"], first["destination"]["target"]) == (1, TEL_1)
    finish(client, first, "fail")
    assert available_ids(client, outdial["id"]) == []  # try_interval holds the campaign back
    assert ok(dispatch(client, outdial["id"]))["result"] == []
    again = ok(client.post(path))  # an operator's redial does not wait
    assert (again["destination_index"], again["try_count"]) == (0, 1)
    error = error_of(client.post(path), 409)  # busy now
    assert (error["status"], error["reason"]) == ("FAILED_PRECONDITION", "TARGET_NOT_DIALABLE")


@SQLITE_ONLY
def test_an_explicit_start_refuses_a_spent_or_unset_destination(client: TestClient) -> None:
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], max_try_count_0=1, max_try_count_1=2)
    target = create_target(client, outdial["id"], TEL_0, TEL_1)
    path = targets_path(outdial["id"], target["id"]) + "/dials"
    finish(client, ok(client.post(path, json={"destination_index": 0})), "fail")
    for body in [{"destination_index": 0}, {"destination_index": 3}]:
        error = error_of(client.post(path, json=body), 409)
        assert error["reason"] == "TARGET_NOT_DIALABLE"
    bad_bodies: list[tuple[dict[str, Any], str]] = [
        ({"destination_index": 5}, "destination_index"),
        ({"reference_id": "x" * 256}, "reference_id"),
        ({"plan": {"max_try_count_0": -1}}, "plan.max_try_count_0"),
        ({"plan": {"colour": 1}}, "plan.colour"),
        ({"pan": {}}, "pan"),
    ]
    for bad, field in bad_bodies:
        error = error_of(client.post(path, json=bad), 400)
        assert error["message"].startswith(f"{field}:"), error


def test_available_takes_plan_fields_from_the_query_else_from_the_outdial(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], max_try_count_0=2)
    first = create_target(client, outdial["id"], TEL_0)
    second = create_target(client, outdial["id"], TEL_0)
    finish(client, ok(client.post(targets_path(outdial["id"], first["id"]) + "/dials")), "fail")
    # Under the outdial's plan the first has a try left; under the asked plan it has none.
    assert available_ids(client, outdial["id"]) == [second["id"], first["id"]]
    assert available_ids(client, outdial["id"], max_try_count_0=1) == [second["id"]]
    assert available_ids(client, outdial["id"], limit=1) == [second["id"]]
    error = error_of(
        client.get(f"/v1.0/outdials/{outdial['id']}/available", params={"max_try_count_0": 101}),
        400,
    )
    assert error["message"].startswith("max_try_count_0:")


def test_available_lists_the_oldest_tm_update_first(client: TestClient) -> None:
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], max_try_count_0=5)
    first = create_target(client, outdial["id"], TEL_0)
    second = create_target(client, outdial["id"], TEL_0)
    dial = ok(client.post(targets_path(outdial["id"], first["id"]) + "/dials"))
    finish(client, dial, "fail")  # first is touched later than second now
    assert available_ids(client, outdial["id"]) == [second["id"], first["id"]]
    assert available_ids(client, outdial["id"], try_interval=3_600_000) == [second["id"]]


@SQLITE_ONLY
def test_limit_outside_1_to_100_is_400(client: TestClient) -> None:
    outdial = create_outdial(client)
    for limit in (0, 101, "many"):
        error = error_of(
            client.get(f"/v1.0/outdials/{outdial['id']}/available", params={"limit": limit}), 400
        )
        assert error["message"].startswith("limit:")
        error = error_of(dispatch(client, outdial["id"], limit=limit), 400)  # type: ignore[arg-type]
        assert error["message"].startswith("limit:")
    error = error_of(client.post(f"/v1.0/outdials/{outdial['id']}/dispatch", json={}), 400)
    assert error["message"].startswith("limit:")


def test_dispatch_claims_up_to_limit_and_answers_empty_when_none_is_available(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    assert ok(dispatch(client, outdial["id"], limit=3))["result"] == []
    for _ in range(5):
        create_target(client, outdial["id"], TEL_0)
    first = ok(dispatch(client, outdial["id"], limit=3))["result"]
    second = ok(dispatch(client, outdial["id"], limit=3))["result"]
    assert (len(first), len(second)) == (3, 2)
    assert len({d["outdial_target_id"] for d in first + second}) == 5
    assert all(list(d) == DIAL_FIELDS for d in first)
    assert ok(dispatch(client, outdial["id"], limit=3))["result"] == []


@SQLITE_ONLY
def test_dispatch_runs_under_the_plan_it_is_given(client: TestClient) -> None:
    outdial = create_outdial(client)
    create_target(client, outdial["id"], TEL_0)
    plan = {"max_try_count_0": 4, "dial_timeout": 2000}
    (dial,) = ok(dispatch(client, outdial["id"], plan=plan))["result"]
    assert dial["plan"] == {**DEFAULT_PLAN, "max_try_count_0": 4, "dial_timeout": 2000}
    assert finish(client, dial, "fail")["status"] == "idle"  # tries left under that plan
    error = error_of(dispatch(client, outdial["id"], plan={"dial_timeout": 10}), 400)
    assert error["message"].startswith("plan.dial_timeout:")


def test_concurrent_dispatchers_never_share_a_target(client: TestClient) -> None:
    outdial = create_outdial(client)
    targets = 40
    batch = {"targets": [{"destination_0": {"type": "tel", "target": TEL_0}}] * targets}
    ok(client.post(targets_path(outdial["id"]) + "/batch", json=batch))
    dialed: list[str] = []
    statuses: list[tuple[int, str]] = []
    lock = threading.Lock()

    def dispatcher() -> None:
        for _ in range(30):
            response = dispatch(client, outdial["id"], limit=3)
            with lock:
                if response.status_code == 200:
                    dialed.extend(d["outdial_target_id"] for d in response.json()["result"])
                    if not response.json()["result"]:
                        return
                else:
                    statuses.append((response.status_code, response.json()["error"]["status"]))

    threads = [threading.Thread(target=dispatcher) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [t for t, n in Counter(dialed).items() if n > 1] == []
    assert len(dialed) == targets
    assert set(statuses) <= {(409, "ABORTED")}


def test_the_service_times_out_a_dial_and_accepts_one_late_finish(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = make_app(tmp_path / "var", clock=clock)
    with TestClient(app, headers=bearer(new_key(app))) as client:
        outdial = create_outdial(client)
        set_plan(client, outdial["id"], max_try_count_0=2, dial_timeout=30_000)
        target = create_target(client, outdial["id"], TEL_0)
        (dial,) = ok(dispatch(client, outdial["id"]))["result"]
        path = targets_path(outdial["id"], target["id"])
        clock.advance(seconds=29)
        assert ok(client.get(path))["status"] == "progressing"  # still within its time
        clock.advance(seconds=2)
        eventually(lambda: ok(client.get(path))["status"] != "progressing", what="timed out")
        (timed_out,) = dials_of(client, dial)
        assert (timed_out["status"], timed_out["result"], timed_out["reason"]) == (
            "done",
            "fail",
            "timeout",
        )
        assert 30_000 <= timed_out["duration_ms"] < 31_000
        assert ok(client.get(path))["status"] == "idle"  # one try left
        late = finish(client, dial, "success", "normal")
        assert late["status"] == "done"
        (recorded,) = dials_of(client, dial)
        assert (recorded["result"], recorded["reason"]) == ("success", "normal")
        assert recorded["tm_end"] == timed_out["tm_end"]
        events = ok(client.get(path + "/events"))["result"]
        assert [e["type"] for e in events] == [
            "Created",
            "DialStarted",
            "DialFinished",
            "DialFinished",
        ]
        assert events[-1]["data"]["late"] is True


def test_the_audit_search_filters_by_outdial_target_number_result_and_time(
    client: TestClient,
) -> None:
    outdial, other = create_outdial(client), create_outdial(client)
    alice = create_target(client, outdial["id"], TEL_0)
    bob = create_target(client, outdial["id"], TEL_1)
    carol = create_target(client, other["id"], TEL_0)
    dials = {}
    for name, target in [("alice", alice), ("bob", bob), ("carol", carol)]:
        path = targets_path(target["outdial_id"], target["id"]) + "/dials"
        dials[name] = ok(client.post(path))
    finish(client, dials["alice"], "success")
    finish(client, dials["bob"], "fail")

    def search(**params: Any) -> list[str]:
        found = ok(client.get("/v1.0/dials", params=params))["result"]
        return [next(n for n, d in dials.items() if d["id"] == f["id"]) for f in found]

    assert search() == ["carol", "bob", "alice"]  # newest first
    assert search(outdial_id=outdial["id"]) == ["bob", "alice"]
    assert search(target_id=bob["id"]) == ["bob"]
    assert search(destination=TEL_0) == ["carol", "alice"]
    assert search(result="success") == ["alice"]
    assert search(since=dials["bob"]["tm_start"]) == ["carol", "bob"]  # inclusive
    assert search(until=dials["bob"]["tm_start"]) == ["alice"]  # exclusive
    assert search(destination=TEL_0, outdial_id=other["id"]) == ["carol"]
    assert search(page_size=2) == ["carol", "bob"]
    for params, field in [({"since": "soon"}, "since"), ({"result": "maybe"}, "result")]:
        error = error_of(client.get("/v1.0/dials", params=params), 400)
        assert error["message"].startswith(f"{field}:")
