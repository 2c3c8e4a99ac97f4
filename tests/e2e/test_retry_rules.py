"""Retry rules over HTTP, on both stores: what a plan's rules are on the wire, the field a
refusal names, and what they do to a campaign's targets as a dialer sees them (dispatch,
availability, the dial's plan, the sweeper's timeout, the do-not-call list). The rules
themselves are tested where they live (tests/unit/test_retry_rules.py)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.timeline import format_timestamp, parse_timestamp
from tests.conftest import FakeClock, eventually
from tests.e2e.conftest import (
    DEFAULT_PLAN,
    TEL_0,
    TEL_1,
    app_on,
    bearer,
    create_outdial,
    create_target,
    dispatch,
    error_of,
    finish,
    new_key,
    ok,
    set_plan,
    targets_path,
)

pytestmark = pytest.mark.shared_app
MS = timedelta(milliseconds=1)  # event times step on by a microsecond or two

RULES = [
    {"reason": "busy", "action": "retry", "retry_interval": 300_000},
    {"reason": "invalid_number", "action": "next_destination"},
    {"reason": "fax", "action": "finish"},
    {"reason": "do_not_call_requested", "action": "do_not_call"},
]


def plan_path(outdial_id: str) -> str:
    return f"/v1.0/outdials/{outdial_id}/plan"


@pytest.fixture
def timed(storage: Any, clock: FakeClock) -> Any:
    """A client of an app of its own whose clock the test moves (both stores)."""
    app = app_on(storage, clock=clock)
    with TestClient(app, headers=bearer(new_key(app))) as client:
        yield client


def availability(client: TestClient, target: dict[str, Any]) -> dict[str, Any]:
    path = targets_path(target["outdial_id"], target["id"]) + "/availability"
    judged: dict[str, Any] = ok(client.get(path))
    return judged


def test_a_plan_holds_its_rules_and_a_change_without_them_keeps_them(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    assert outdial["plan"] == DEFAULT_PLAN  # no rules: every failure retries, as before
    changed = set_plan(client, outdial["id"], **{"retry_rules": RULES})
    assert changed["plan"] == {**DEFAULT_PLAN, "retry_rules": RULES}
    kept = set_plan(client, outdial["id"], **{"try_interval": 60_000})
    assert kept["plan"]["retry_rules"] == RULES
    cleared = set_plan(client, outdial["id"], **{"retry_rules": []})
    assert cleared["plan"]["retry_rules"] == []
    events = ok(client.get(f"/v1.0/outdials/{outdial['id']}/events"))["result"]
    assert [e["data"]["plan"]["retry_rules"] for e in events if e["type"] == "PlanChanged"] == [
        RULES,
        RULES,
        [],
    ]


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([{"reason": "busy", "action": "redial"}], "retry_rules[0].action"),
        ([{"reason": "busy", "action": "retry"}] * 33, "retry_rules"),
        ([{"reason": f"r{n}", "action": "finish"} for n in range(33)], "retry_rules"),
        ([{"reason": "busy", "action": "retry", "retry_interval": -1}], "retry_interval"),
        (
            [{"reason": "busy", "action": "retry", "retry_interval": 604_800_001}],
            "retry_interval",
        ),
        (
            [{"reason": "busy", "action": "next_destination", "retry_interval": 1000}],
            "retry_rules[0].retry_interval",
        ),
        ([{"reason": "", "action": "finish"}], "retry_rules[0].reason"),
        ([{"reason": "x" * 65, "action": "finish"}], "retry_rules[0].reason"),
        ([{"reason": "busy", "action": "finish", "why": "?"}], "why"),
        ([{"action": "finish"}], "reason"),
        (
            [{"reason": "busy", "action": "finish"}, {"reason": "BUSY", "action": "retry"}],
            "retry_rules[1].reason",
        ),
        (
            [{"reason": "*", "action": "retry"}, {"reason": "busy", "action": "finish"}],
            "retry_rules[1].reason",
        ),
        ("busy", "retry_rules"),
    ],
)
def test_a_plan_with_a_rule_that_cannot_be_is_400_naming_the_field_and_changes_nothing(
    client: TestClient, rules: Any, field: str
) -> None:
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], **{"retry_rules": RULES})
    refused = error_of(client.put(plan_path(outdial["id"]), json={"retry_rules": rules}), 400)
    assert field in refused["message"]
    assert ok(client.get(f"/v1.0/outdials/{outdial['id']}"))["plan"]["retry_rules"] == RULES


def test_rules_decide_by_reason_what_the_next_dispatch_does(
    timed: TestClient, clock: FakeClock
) -> None:
    """busy waits its own five minutes; invalid_number closes the destination while it
    still has tries; fax finishes the target. No rule for noanswer: the plan's interval."""
    client = timed
    outdial = create_outdial(client)
    set_plan(
        client,
        outdial["id"],
        **{
            "max_try_count_0": 5,
            "max_try_count_1": 5,
            "try_interval": 60_000,
            "retry_rules": RULES,
        },
    )
    target = create_target(client, outdial["id"], TEL_0, TEL_1)

    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    assert dial["plan"]["retry_rules"] == RULES  # recorded in its DialStarted
    clock.advance(seconds=10)
    finish(client, dial, "fail", "BUSY")  # matched whatever its case
    judged = availability(client, target)
    assert [b["rule"] for b in judged["blocked_by"]] == ["TRY_INTERVAL"]
    assert "by rule busy, 300 s" in judged["blocked_by"][0]["message"]
    assert abs(parse_timestamp(judged["ready_at"]) - clock.now - timedelta(seconds=300)) < MS
    clock.advance(seconds=299)
    assert ok(dispatch(client, outdial["id"]))["result"] == []
    clock.advance(seconds=1)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    assert (dial["destination_index"], dial["try_count"]) == (0, 2)

    clock.advance(seconds=10)
    finish(client, dial, "fail", "noanswer")  # no rule: the plan's try_interval
    judged = availability(client, target)
    assert "the try_interval has not passed" in judged["blocked_by"][0]["message"]
    assert abs(parse_timestamp(judged["ready_at"]) - clock.now - timedelta(seconds=60)) < MS
    clock.advance(seconds=60)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    clock.advance(seconds=10)
    finish(client, dial, "fail", "invalid_number")
    clock.advance(seconds=60)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    assert (dial["destination_index"], dial["try_count"]) == (1, 1)  # 0 had 2 tries left
    refused = error_of(
        client.post(
            targets_path(outdial["id"], target["id"]) + "/dials", json={"destination_index": 0}
        ),
        409,
    )
    assert refused["reason"] == "TARGET_NOT_DIALABLE"

    clock.advance(seconds=10)
    done = finish(client, dial, "fail", "fax")
    assert done["status"] == "done"
    assert (done["try_count_0"], done["try_count_1"]) == (3, 1)
    judged = availability(client, target)
    assert judged["ready_at"] is None
    (not_idle,) = [b for b in judged["blocked_by"] if b["rule"] == "NOT_IDLE"]
    assert "fax → finish" in not_idle["message"]
    clock.advance(days=1)
    assert ok(dispatch(client, outdial["id"]))["result"] == []


def test_a_closed_destination_is_named_when_no_destination_is_left(
    client: TestClient,
) -> None:
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], **{"max_try_count_0": 3, "retry_rules": RULES})
    target = create_target(client, outdial["id"], TEL_0)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    assert finish(client, dial, "fail", "invalid_number")["status"] == "done"
    judged = availability(client, target)
    (no_tries,) = [b for b in judged["blocked_by"] if b["rule"] == "NO_TRIES_LEFT"]
    assert "destination 0 closed: invalid_number → next_destination" in no_tries["message"]
    assert judged["ready_at"] is None


def test_a_request_plan_brings_its_own_rules_or_none(client: TestClient) -> None:
    """A dispatch's plan without rules keeps the outdial's; "retry_rules": [] dials under
    none, so busy is then an ordinary failure that retries."""
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], **{"max_try_count_0": 2, "retry_rules": RULES})
    for number in (TEL_0, TEL_1):
        create_target(client, outdial["id"], number)
    (with_rules,) = ok(dispatch(client, outdial["id"], plan={"try_interval": 0}))["result"]
    assert with_rules["plan"]["retry_rules"] == RULES
    (without,) = ok(dispatch(client, outdial["id"], plan={"retry_rules": []}))["result"]
    assert without["plan"]["retry_rules"] == []
    assert finish(client, with_rules, "fail", "fax")["status"] == "done"
    assert finish(client, without, "fail", "fax")["status"] == "idle"


def test_do_not_call_finishes_the_target_and_lists_the_number_for_every_outdial(
    client: TestClient, key: str
) -> None:
    outdial, other = create_outdial(client), create_outdial(client)
    set_plan(client, outdial["id"], **{"max_try_count_0": 3, "retry_rules": RULES})
    target = create_target(client, outdial["id"], TEL_0, TEL_1)
    elsewhere = create_target(client, other["id"], TEL_0)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    done = finish(client, dial, "fail", "do_not_call_requested")
    assert done["status"] == "done"  # TEL_1 is never dialed either
    assert ok(client.get(targets_path(outdial["id"], target["id"])))["status"] == "done"

    listed = ok(client.get("/v1.0/do_not_call", params={"target": TEL_0}))["result"]
    (entry,) = listed
    assert (entry["target"], entry["match"], entry["expires_at"]) == (TEL_0, "exact", None)
    assert entry["outdial_id"] == "00000000-0000-0000-0000-000000000000"
    assert entry["reason"] == f"dial {dial['id']}: do_not_call_requested"
    assert entry["actor"].startswith("kid_")  # the key that finished the dial
    judged = availability(client, elsewhere)
    assert [b["rule"] for b in judged["blocked_by"]] == ["ON_DO_NOT_CALL"]
    assert ok(dispatch(client, other["id"]))["result"] == []
    # The same finish again records nothing, and the list has the one entry still.
    assert finish(client, dial, "fail", "do_not_call_requested") == done
    assert len(ok(client.get("/v1.0/do_not_call", params={"target": TEL_0}))["result"]) == 1


def test_a_removed_entry_is_put_back_for_good_by_the_rule(client: TestClient) -> None:
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], **{"retry_rules": RULES})
    (added,) = ok(client.post("/v1.0/do_not_call", json={"entries": [{"target": TEL_0}]}))["result"]
    ok(client.delete(f"/v1.0/do_not_call/{added['id']}"))
    create_target(client, outdial["id"], TEL_0)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    finish(client, dial, "fail", "Do_Not_Call_Requested")
    entry = ok(client.get(f"/v1.0/do_not_call/{added['id']}"))
    assert (entry["tm_delete"], entry["expires_at"]) == ("9999-01-01 00:00:00.000000", None)
    assert entry["reason"] == f"dial {dial['id']}: Do_Not_Call_Requested"


def test_the_sweepers_timeout_and_a_late_finish_follow_their_own_reasons_rules(
    timed: TestClient, clock: FakeClock
) -> None:
    """The timeout closes destination 0 by its rule; the caller's late finish of that dial,
    do_not_call_requested, then finishes the target and lists the number."""
    client = timed
    outdial = create_outdial(client)
    rules = [{"reason": "timeout", "action": "next_destination"}, *RULES]
    set_plan(
        client,
        outdial["id"],
        **{
            "max_try_count_0": 3,
            "max_try_count_1": 3,
            "dial_timeout": 30_000,
            "retry_rules": rules,
        },
    )
    target = create_target(client, outdial["id"], TEL_0, TEL_1)
    path = targets_path(outdial["id"], target["id"])
    (first,) = ok(dispatch(client, outdial["id"]))["result"]
    clock.advance(seconds=31)
    eventually(lambda: ok(client.get(path))["status"] == "idle", what="timed out")
    (second,) = ok(dispatch(client, outdial["id"]))["result"]
    assert second["destination_index"] == 1  # timeout closed destination 0

    late = finish(client, first, "fail", "do_not_call_requested")
    assert late["status"] == "done"  # finished while its second dial is in flight
    listed = ok(client.get("/v1.0/do_not_call", params={"target": TEL_0}))["result"]
    assert [e["reason"] for e in listed] == [f"dial {first['id']}: do_not_call_requested"]
    assert finish(client, second, "fail", "noanswer")["status"] == "done"
    clock.advance(days=1)
    assert ok(dispatch(client, outdial["id"]))["result"] == []
    events = ok(client.get(path + "/events"))["result"]
    assert [e["data"].get("reason") for e in events if e["type"] == "DialFinished"] == [
        "timeout",
        "do_not_call_requested",
        "noanswer",
    ]


def test_a_success_is_never_judged_by_the_rules(client: TestClient) -> None:
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], **{"retry_rules": [{"reason": "*", "action": "do_not_call"}]})
    create_target(client, outdial["id"], TEL_0)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    assert finish(client, dial, "success", "normal")["status"] == "done"
    assert ok(client.get("/v1.0/do_not_call", params={"target": TEL_0}))["result"] == []


def test_rules_leave_the_ready_time_on_the_wire_as_a_wire_timestamp(
    timed: TestClient, clock: FakeClock
) -> None:
    client = timed
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], **{"retry_rules": RULES[:1], "max_try_count_0": 2})
    target = create_target(client, outdial["id"], TEL_0)
    (dial,) = ok(dispatch(client, outdial["id"]))["result"]
    finish(client, dial, "fail", "busy")
    judged = availability(client, target)
    (ended,) = ok(client.get("/v1.0/dials", params={"target_id": target["id"]}))["result"]
    assert judged["ready_at"] == format_timestamp(
        parse_timestamp(ended["tm_end"]) + timedelta(minutes=5)
    )


def documented_plan() -> dict[str, Any]:
    """The plan docs/retry-rules.md shows, as its curl sends it."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "retry-rules.md").read_text()
    found = re.search(r"/plan -H \"\$H\" -d '(\{.*?\})'", doc, re.S)
    assert found is not None, "docs/retry-rules.md shows a plan with rules"
    plan: dict[str, Any] = json.loads(found.group(1))
    return plan


def test_the_documented_timeline_is_what_the_service_does(
    timed: TestClient, clock: FakeClock
) -> None:
    """Erin's rows in docs/retry-rules.md, dial by dial, under the plan it shows."""
    client = timed
    doc = (Path(__file__).resolve().parents[2] / "docs" / "retry-rules.md").read_text()
    clock.now = clock.now.replace(hour=10, minute=0, second=0, microsecond=0)  # the doc's
    outdial = create_outdial(client)
    set_plan(client, outdial["id"], **documented_plan())
    erin = create_target(client, outdial["id"], TEL_0, TEL_1, name="Erin")

    def dial_and_fail(reason: str, ring_s: int) -> dict[str, Any]:
        (dial,) = ok(dispatch(client, outdial["id"]))["result"]
        clock.advance(seconds=ring_s)
        finish(client, dial, "fail", reason)
        return availability(client, erin)

    said = dial_and_fail("BUSY", 20)
    assert "ready at 2026-01-01 10:05:20" in said["blocked_by"][0]["message"]
    assert "by rule busy, 300 s" in said["blocked_by"][0]["message"]
    assert "ready at 10:05:20 by rule busy, 300 s" in doc
    clock.advance(seconds=300)
    said = dial_and_fail("invalid_number", 11)
    assert (said["next_destination"], said["blocked_by"][0]["rule"]) == (1, "TRY_INTERVAL")
    assert abs(parse_timestamp(said["ready_at"]) - clock.now - timedelta(seconds=60)) < MS
    clock.advance(seconds=60)
    said = dial_and_fail("noanswer", 19)
    assert said["blocked_by"][0]["message"].startswith("the try_interval has not passed")
    clock.advance(seconds=60)
    said = dial_and_fail("do_not_call_requested", 15)
    (not_idle,) = [b for b in said["blocked_by"] if b["rule"] == "NOT_IDLE"]
    assert not_idle["message"].startswith(
        "the target is done: do_not_call_requested → do_not_call, dial "
    )
    assert "do_not_call_requested → do_not_call, dial …" in doc
    assert said["ready_at"] is None
    (entry,) = ok(client.get("/v1.0/do_not_call", params={"target": TEL_1}))["result"]
    assert entry["reason"].endswith(": do_not_call_requested")
