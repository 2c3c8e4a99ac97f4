"""GET .../availability says why a target may or may not be dialed now, by the rules
dispatch and an explicit start judge by, and agrees with the available list."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import (
    TEL_0,
    TEL_1,
    create_outdial,
    create_target,
    finish,
    ok,
    set_plan,
    targets_path,
)

pytestmark = pytest.mark.shared_app


def availability(client: TestClient, outdial: str, target: str, **plan: int) -> Any:
    return ok(client.get(targets_path(outdial, target) + "/availability", params=plan))


def listed(client: TestClient, outdial: str, **plan: int) -> set[str]:
    rows = ok(client.get(f"/v1.0/outdials/{outdial}/available", params=plan))["result"]
    return {row["id"] for row in rows}


def rules(judged: Any) -> list[str]:
    return [b["rule"] for b in judged["blocked_by"]]


def test_each_rule_that_blocks_a_target_is_named(client: TestClient) -> None:
    outdial = create_outdial(client)["id"]
    set_plan(client, outdial, max_try_count_0=2, max_try_count_1=1, try_interval=600_000)
    target = create_target(client, outdial, TEL_0, TEL_1)["id"]

    fresh = availability(client, outdial, target)
    assert fresh == {
        "available": True,
        "next_destination": 0,
        "ready_at": None,
        "blocked_by": [],
        "plan": fresh["plan"],
    }
    assert fresh["plan"]["try_interval"] == 600_000
    assert target in listed(client, outdial)

    dial = ok(client.post(targets_path(outdial, target) + "/dials"))
    assert rules(availability(client, outdial, target)) == ["NOT_IDLE"]
    assert target not in listed(client, outdial)

    finish(client, dial, "fail", "busy")
    waiting = availability(client, outdial, target)
    assert rules(waiting) == ["TRY_INTERVAL"]
    assert waiting["ready_at"] > dial["tm_start"]
    assert "ready at" in waiting["blocked_by"][0]["message"]
    assert target not in listed(client, outdial)
    # Under a plan without the interval, it may be dialed now, as the list says too.
    now = availability(client, outdial, target, try_interval=0)
    assert (now["available"], now["next_destination"]) == (True, 0)
    assert target in listed(client, outdial, try_interval=0)
    # With no tries left on any destination under the query's plan:
    spent = availability(
        client, outdial, target, try_interval=0, max_try_count_0=1, max_try_count_1=0
    )
    assert rules(spent) == ["NO_TRIES_LEFT"]
    assert spent["next_destination"] is None

    ok(client.delete(targets_path(outdial, target)))
    assert rules(availability(client, outdial, target, try_interval=0)) == ["DELETED"]
    other = create_target(client, outdial, TEL_0)["id"]
    ok(client.delete(f"/v1.0/outdials/{outdial}"))
    assert rules(availability(client, outdial, other)) == ["OUTDIAL_DELETED"]


@SQLITE_ONLY
def test_availability_of_a_target_that_is_not_there_is_404(client: TestClient) -> None:
    outdial = create_outdial(client)["id"]
    answer = client.get(
        targets_path(outdial, "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10") + "/availability"
    )
    assert answer.status_code == 404
