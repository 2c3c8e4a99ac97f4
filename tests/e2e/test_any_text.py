"""Property: any Unicode text (control characters and lone surrogates included) in any
string field of any body, or any text filter, is answered 200 or 400, never 5xx, and the
read model keeps moving: a write after it is listed at once and the service stays ready."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import TEL_0, create_outdial, create_target, ok, set_plan, targets_path

# Every code point, surrogates too (JSON's "\ud800" escapes carry them).
ANY_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()),
    max_size=40,
)
pytestmark = pytest.mark.shared_app

RUNS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FIELDS = [
    "outdial.name",
    "outdial.detail",
    "outdial.data",
    "outdial update.name",
    "outdial update.detail",
    "outdial data.data",
    "target.name",
    "target.detail",
    "target.data",
    "address.target_name",
    "address.name",
    "address.detail",
    "address.target",
    "batch.name",
    "dial.reference_id",
    "finish.reason",
    "filter.destination",
    "filter.reference_id",
    "filter.actor",
]


def send(client: TestClient, ids: dict[str, str], where: str, value: str) -> Any:
    """The request that carries ``value`` in the field ``where`` names."""
    kind, field = where.split(".")
    outdial, target = ids["o"], ids["t"]
    tel: dict[str, Any] = {"destination_0": {"target": TEL_0}}
    dials = targets_path(outdial, target) + "/dials"
    if kind == "filter":
        # As bytes any client could send: a surrogate as its three UTF-8-shaped bytes.
        text = quote(value.encode("utf-8", "surrogatepass"), safe="")
        return client.get(f"/v1.0/dials?{field}={text}")
    method, path, body = {
        "outdial": ("POST", "/v1.0/outdials", {field: value}),
        "outdial update": ("PUT", f"/v1.0/outdials/{outdial}", {field: value}),
        "outdial data": ("PUT", f"/v1.0/outdials/{outdial}/data", {"data": value}),
        "target": ("POST", targets_path(outdial), {**tel, field: value}),
        "address": (
            "POST",
            targets_path(outdial),
            {
                "destination_0": {
                    "type": "sip" if field == "target" else "tel",
                    "target": TEL_0,
                    field: value,
                }
            },
        ),
        "batch": ("POST", targets_path(outdial) + "/batch", {"targets": [{**tel, field: value}]}),
        "dial": ("POST", targets_path(outdial, ids["idle"]) + "/dials", {field: value}),
        "finish": ("PUT", f"{dials}/{ids['d']}", {"result": "fail", field: value}),
    }[kind]
    # JSON as a client sends it: \u escapes for what UTF-8 cannot carry (surrogates).
    content = json.dumps(body).encode()
    return client.request(
        method, path, content=content, headers={"Content-Type": "application/json"}
    )


@pytest.mark.slow
@pytest.mark.parametrize("where", FIELDS)
def test_any_text_is_200_or_400_and_the_read_model_keeps_moving(
    client: TestClient, where: str
) -> None:
    outdial = create_outdial(client)["id"]
    set_plan(client, outdial, max_try_count_0=100)
    target = create_target(client, outdial, TEL_0)["id"]
    dial = ok(client.post(targets_path(outdial, target) + "/dials"))["id"]
    idle = create_target(client, outdial, TEL_0)["id"]
    ids = {"o": outdial, "t": target, "d": dial, "idle": idle}

    @RUNS
    @given(value=ANY_TEXT)
    def any_text(value: str) -> None:
        answer = send(client, ids, where, value)
        assert answer.status_code in (200, 400), (value, answer.text)
        if where == "finish.reason" and answer.status_code == 200:
            # Finished: the next example finishes another dial of its own.
            ids["d"] = ok(client.post(targets_path(outdial, target) + "/dials"))["id"]
        if where == "dial.reference_id" and answer.status_code == 200:
            # Started: finish it, so the next example starts on an idle target again.
            started = targets_path(outdial, idle) + f"/dials/{answer.json()['id']}"
            ok(client.put(started, json={"result": "fail"}))

    any_text()
    after = create_outdial(client, name="after")
    listed = ok(client.get("/v1.0/outdials", params={"page_size": 100}))["result"]
    assert after["id"] in {o["id"] for o in listed}
    assert client.get("/readyz").status_code == 200
