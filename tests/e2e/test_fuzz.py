"""Property-based fuzzing of every operation, generated from the app's own /openapi.json.

Path ids that come out as valid UUIDs are swapped for ids of real resources, so the
fuzz reaches past 404 into the handlers; malformed ids are kept to probe the refusals.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.e2e.conftest import TEL_0, TEL_1, bearer, make_app, new_key, ok

# The schema is read when the module is collected, so the app exists from then on; its
# store lives in a directory of its own, removed when the process ends.
_DATA = Path(tempfile.mkdtemp(prefix="outdial-fuzz-"))
atexit.register(shutil.rmtree, _DATA, ignore_errors=True)
# The fuzz checks that every request without a valid key is 401; the throttle that turns
# the 21st of a minute into 429 has tests of its own (test_security.py).
APP = make_app(_DATA / "var", auth_failures_allowed=0)
KEY = new_key(APP)
# The event stream never ends by itself; test_event_stream.py reads it over a socket.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/v1.0/events/stream")

pytestmark = pytest.mark.slow

REQUESTS: Counter[str] = Counter()
# Page tokens are opaque and an address's `target` rule depends on its `type`: the
# description cannot say which schema-valid values the service issued or accepts, so
# a 400 for them is right. Every other check (no 5xx, documented statuses and bodies,
# invalid data refused, auth enforced, Allow headers...) stays on.
NOT_CHECKED = [positive_data_acceptance]


@pytest.fixture(scope="module")
def real_ids() -> Iterator[dict[str, str]]:
    """An outdial, a target of it, a dial of that target and a do-not-call entry, for the
    fuzz to aim at."""
    with TestClient(APP, headers=bearer(KEY)) as client:
        outdial = ok(client.post("/v1.0/outdials", json={"name": "fuzz"}))
        destinations = {
            "destination_0": {"type": "tel", "target": TEL_0},
            "destination_1": {"type": "tel", "target": TEL_1},
        }
        target = ok(client.post(f"/v1.0/outdials/{outdial['id']}/targets", json=destinations))
        path = f"/v1.0/outdials/{outdial['id']}/targets/{target['id']}/dials"
        dial = ok(client.post(path))
        entries = {"entries": [{"target": "+821100000009", "reason": "fuzz"}]}
        [entry] = ok(client.post("/v1.0/do_not_call", json=entries))["result"]
        yield {
            "outdial_id": outdial["id"],
            "target_id": target["id"],
            "dial_id": dial["id"],
            "entry_id": entry["id"],
        }
    answered = sum(
        sample.value
        for metric in APP.state.metrics.requests.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )
    print(f"\nfuzz: {sum(REQUESTS.values())} cases, {answered:.0f} HTTP requests answered")
    for operation, count in sorted(REQUESTS.items()):
        print(f"  {count:4d}  {operation}")


def _is_uuid(value: object) -> bool:
    try:
        UUID(str(value))
    except ValueError:
        return False
    return True


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_api_fail_or_break_its_own_description(
    case: Any, real_ids: dict[str, str]
) -> None:
    for name, value in (case.path_parameters or {}).items():
        if name in real_ids and _is_uuid(value):
            case.path_parameters[name] = real_ids[name]
    REQUESTS[f"{case.method} {case.path}"] += 1
    case.call_and_validate(headers=bearer(KEY), excluded_checks=NOT_CHECKED)
