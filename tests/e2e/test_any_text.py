"""Property: any Unicode text (control characters and lone surrogates included) in any
string field of any body, or any text filter, is answered 200 or 400, never 5xx, and the
read model keeps moving: a write after it is listed at once and the service stays ready."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import TEL_0, create_outdial, create_target, ok, targets_path

# Every code point, surrogates too (JSON's "\ud800" escapes carry them).
ANY_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()),
    max_size=40,
)
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
    if kind == "outdial":
        return client.post("/v1.0/outdials", json={field: value})
    if kind == "outdial update":
        return client.put(f"/v1.0/outdials/{outdial}", json={field: value})
    if kind == "outdial data":
        return client.put(f"/v1.0/outdials/{outdial}/data", json={"data": value})
    if kind == "target":
        return client.post(targets_path(outdial), json={**tel, field: value})
    if kind == "address":
        address = {"type": "sip" if field == "target" else "tel", "target": TEL_0, field: value}
        return client.post(targets_path(outdial), json={"destination_0": address})
    if kind == "batch":
        return client.post(
            targets_path(outdial) + "/batch", json={"targets": [{**tel, field: value}]}
        )
    dials = targets_path(outdial, target) + "/dials"
    if kind == "dial":
        return client.post(dials, json={field: value})
    if kind == "finish":
        return client.put(f"{dials}/{ids['d']}", json={"result": "fail", field: value})
    return client.get("/v1.0/dials", params={field: value})


@pytest.mark.slow
@pytest.mark.parametrize("where", FIELDS)
def test_any_text_is_200_or_400_and_the_read_model_keeps_moving(
    client: TestClient, where: str
) -> None:
    outdial = create_outdial(client)["id"]
    target = create_target(client, outdial, TEL_0)["id"]
    dial = ok(client.post(targets_path(outdial, target) + "/dials"))["id"]
    ids = {"o": outdial, "t": target, "d": dial}

    @RUNS
    @given(value=ANY_TEXT)
    def any_text(value: str) -> None:
        answer = send(client, ids, where, value)
        assert answer.status_code in (200, 400), (value, answer.text)
        if where == "finish.reason" and answer.status_code == 200:
            # Finished: the next example finishes another dial of its own.
            ids["d"] = ok(client.post(targets_path(outdial, target) + "/dials"))["id"]

    any_text()
    after = create_outdial(client, name="after")
    listed = ok(client.get("/v1.0/outdials", params={"page_size": 100}))["result"]
    assert after["id"] in {o["id"] for o in listed}
    assert client.get("/readyz").status_code == 200
