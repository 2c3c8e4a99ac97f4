"""Which retry rule decided a dial's finish, wherever people look: the replay over HTTP
and in `outdial replay`, the target page (its dials, its closed destinations, the finish
that made it done, its replay) and the availability's messages; on both stores."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import cli, presenters
from api.schemas.history import ReplayOut
from application.history import replay_steps
from domain.plan import Plan
from domain.target import Target
from tests.conftest import SQLITE_ONLY, START, tel
from tests.e2e.conftest import (
    TEL_0,
    TEL_1,
    create_outdial,
    create_target,
    ok,
    serving_of,
    set_plan,
    targets_path,
    text_of,
)

pytestmark = pytest.mark.shared_app

RULES = [
    {"reason": "invalid_number", "action": "next_destination"},
    {"reason": "busy", "action": "retry", "retry_interval": 300000},
]
TIMEOUT_RETRIES = {"reason": "timeout", "action": "retry", "retry_interval": 600_000}
CLOSED = "invalid_number → next_destination"
WAITS = "busy → retry after 300 s"


def where(app: FastAPI) -> list[str]:
    """The CLI's arguments for the app's store."""
    settings = serving_of(app).settings
    if settings.database_url:
        return ["--database-url", settings.database_url]
    return ["--data-dir", str(settings.data_dir)]


def outdial_with_rules(client: TestClient, *rules: dict[str, Any]) -> str:
    outdial: str = create_outdial(client, name="rules list")["id"]
    plan = {"max_try_count_0": 2, "retry_rules": [*RULES, *rules]}
    set_plan(client, outdial, **plan)
    return outdial


def dial_and_finish(client: TestClient, path: str, reason: str, result: str = "fail") -> str:
    """An operator's dial of the target's next destination, finished; its id."""
    dial_id: str = ok(client.post(path + "/dials"))["id"]
    ok(client.put(path + f"/dials/{dial_id}", json={"result": result, "reason": reason}))
    return dial_id


def blocked(client: TestClient, path: str) -> dict[str, str]:
    judged = ok(client.get(path + "/availability"))
    return {b["rule"]: b["message"] for b in judged["blocked_by"]}


def replay_of(client: TestClient, path: str) -> list[dict[str, Any]]:
    body = ok(client.get(path + "/replay"))
    ReplayOut.model_validate(body)  # what /openapi.json documents
    steps: list[dict[str, Any]] = body["result"]
    assert all("rule" in step for step in steps)
    return steps


def cli_blocks(app: FastAPI, target_id: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """`outdial replay`'s blocks, one an event, after checking every line fits 80 columns."""
    assert cli.main(["replay", target_id, *where(app)]) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines())
    return out.split("\n\n")[1:]


def test_a_closed_destination_and_a_rules_wait_are_shown_with_their_rules(
    app: FastAPI,
    client: TestClient,
    signed_in: TestClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outdial = outdial_with_rules(client)
    target = create_target(client, outdial, TEL_0, TEL_1, name="Carol")
    path = targets_path(outdial, target["id"])
    invalid = dial_and_finish(client, path, "invalid_number")  # closes destination 0
    assert ok(client.get(path + "/availability"))["next_destination"] == 1
    busy = dial_and_finish(client, path, "busy")  # destination 1's one try: done

    # The availability names the rule that closed destination 0 and the one it waits by.
    messages = blocked(client, path)
    assert messages["NO_TRIES_LEFT"] == (
        "no destination has tries left under the plan; "
        f"destination 0 closed: {CLOSED}, dial {invalid}"
    )
    assert f"by rule busy, 300 s (dial {busy}, reason 'busy')" in messages["TRY_INTERVAL"]

    # The replay: each finish a rule decided with that rule, every other step null.
    steps = replay_of(client, path)
    assert [s["event"]["type"] for s in steps] == [
        "Created",
        "DialStarted",
        "DialFinished",
        "DialStarted",
        "DialFinished",
    ]
    assert [s["rule"] for s in steps] == [
        None,
        None,
        {
            "reason": "invalid_number",
            "action": "next_destination",
            "said": f"{CLOSED}, dial {invalid}",
        },
        None,
        {
            "reason": "busy",
            "action": "retry",
            "retry_interval": 300000,
            "said": f"{WAITS}, dial {busy}",
        },
    ]

    # `outdial replay`: one line under each such finish, cut to 80 columns.
    blocks = cli_blocks(app, target["id"], capsys)
    rule_lines = [[line for line in b.splitlines() if line.startswith("  rule: ")] for b in blocks]
    closed_line = f"  rule: {CLOSED}, dial {invalid}"
    assert rule_lines == [[], [], [closed_line[:79] + "…"], [], [f"  rule: {WAITS}, dial {busy}"]]
    assert cli.main(["replay", target["id"], "--json", *where(app)]) == 0
    assert '"said": "busy → retry after 300 s, dial ' in capsys.readouterr().out

    # The target page: each dial's rule, the closed destination, the availability.
    page = signed_in.get(f"/ui/outdials/{outdial}/targets/{target['id']}")
    assert page.status_code == 200
    seen = text_of(page)
    drawing = re.search(r'<svg class="timeline".*?</svg>', page.text, re.S)
    assert drawing is not None
    assert f"fail · {CLOSED} ·" in html.unescape(drawing.group(0))
    assert f"fail · {WAITS} ·" in html.unescape(drawing.group(0))
    assert (
        "Destination 0 tel:+821100000001 \N{MULTIPLICATION SIGN} 1 closed "
        "Destination 1 tel:+821100000002 \N{MULTIPLICATION SIGN} 1 "
        f"Decided by rules destination 0 closed: {CLOSED} ( v3 ) Created"
    ) in seen
    assert '<a href="#v3">v3</a>' in page.text  # the replay's step that decided it
    assert "target finished" not in seen  # done by its tries, not by a rule
    assert f"rule {CLOSED}, dial {invalid}" in seen  # the replay's step v3
    assert f"rule {WAITS}, dial {busy}" in seen  # and v5
    assert f"NO_TRIES_LEFT {messages['NO_TRIES_LEFT']}" in seen
    assert f"TRY_INTERVAL {messages['TRY_INTERVAL']}" in seen


def test_a_finish_by_the_rule_for_any_reason_is_shown_with_the_dials_reason(
    app: FastAPI,
    client: TestClient,
    signed_in: TestClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outdial = outdial_with_rules(client, {"reason": "*", "action": "finish"})
    target = create_target(client, outdial, TEL_0, name="Dave")
    path = targets_path(outdial, target["id"])
    dial = dial_and_finish(client, path, "no_answer")
    finished = f'no_answer → finish (rule "*"), dial {dial}'

    assert blocked(client, path)["NOT_IDLE"] == f"the target is done: {finished}"
    rules = [s["rule"] for s in replay_of(client, path)]
    assert rules == [None, None, {"reason": "*", "action": "finish", "said": finished}]
    assert f"  rule: {finished}" in cli_blocks(app, target["id"], capsys)[2].splitlines()

    page = signed_in.get(f"/ui/outdials/{outdial}/targets/{target['id']}")
    seen = text_of(page)
    assert 'Decided by rules target finished: no_answer → finish (rule "*") ( v3 )' in seen
    assert 'fail · no_answer → finish (rule "*") ·' in seen
    assert f"NOT_IDLE the target is done: {finished}" in seen
    assert f"rule {finished}" in seen


def test_a_success_and_a_reason_no_rule_matches_have_no_rule(
    app: FastAPI,
    client: TestClient,
    signed_in: TestClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outdial = outdial_with_rules(client)
    target = create_target(client, outdial, TEL_0, name="Erin")
    path = targets_path(outdial, target["id"])
    dial_and_finish(client, path, "no_answer")  # no rule: the plan's try_interval
    dial_and_finish(client, path, "answered", result="success")

    assert all(step["rule"] is None for step in replay_of(client, path))
    assert not any("  rule: " in b for b in cli_blocks(app, target["id"], capsys))
    seen = text_of(signed_in.get(f"/ui/outdials/{outdial}/targets/{target['id']}"))
    assert "Decided by rules" not in seen
    assert "fail · no_answer ·" in seen
    assert " rule " not in seen


@SQLITE_ONLY
def test_openapi_documents_the_rule_of_each_replay_step(client: TestClient) -> None:
    schemas = ok(client.get("/openapi.json"))["components"]["schemas"]
    step = schemas["ReplayStepOut"]
    assert "rule" in step["required"]
    assert step["properties"]["rule"]["anyOf"] == [
        {"$ref": "#/components/schemas/ReplayRuleOut"},
        {"type": "null"},
    ]
    rule = schemas["ReplayRuleOut"]
    assert set(rule["properties"]) == {"reason", "action", "retry_interval", "said"}
    assert set(rule["required"]) == {"reason", "action", "said"}


def test_a_timed_out_dial_and_its_late_finish_each_show_their_own_reasons_rule() -> None:
    """Each step's rule is the one that decided that finish: the sweeper's timeout retries
    by its rule, the caller's late finish of the same dial closes destination 0 by its own."""
    rules = Plan.from_dict(
        {
            "max_try_count_0": 3,
            "dial_timeout": 30_000,
            "retry_rules": [TIMEOUT_RETRIES, *RULES],
        }
    )
    target = Target.create(
        target_id=uuid4(),
        outdial_id=uuid4(),
        customer_id=uuid4(),
        destinations=[tel(TEL_0), tel(TEL_1), None, None, None],
        at=START,
    )
    dial = target.start_dial(dial_id=uuid4(), plan=rules, at=START)
    target.time_out_dial(dial_id=dial.id, at=START + timedelta(seconds=31))
    target.finish_dial(
        dial_id=dial.id, result="fail", reason="invalid_number", at=START + timedelta(seconds=40)
    )
    steps = presenters.replay(replay_steps(target.collect_events()))
    assert [s["rule"] for s in steps] == [
        None,
        None,
        {
            "reason": "timeout",
            "action": "retry",
            "retry_interval": 600_000,
            "said": f"timeout → retry after 600 s, dial {dial.id}",
        },
        {
            "reason": "invalid_number",
            "action": "next_destination",
            "said": f"{CLOSED}, dial {dial.id}",
        },
    ]
