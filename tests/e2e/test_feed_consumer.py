"""The consumer example of docs/api.md (docs/examples/follow_dials.py), run as its reader
would run it: it keeps a tally of dial results from the stream, is killed, misses some
results while it is down, and after a restart counts each dial exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.stores import Storage
from tests.conftest import eventually
from tests.e2e.conftest import TEL_0, app_on, bearer, new_key, tel
from tests.e2e.live import served

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "follow_dials.py"


@pytest.fixture
def service(sqlite_storage: Storage, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    monkeypatch.setattr("api.http.routes.events.KEEP_ALIVE_S", 0.5)
    app = app_on(sqlite_storage)
    with served(app) as url:
        yield url, new_key(app)


def _finish_dials(http: httpx.Client, outdial_id: str, results: list[tuple[str, str]]) -> None:
    for result, reason in results:
        made = http.post(f"/v1.0/outdials/{outdial_id}/targets", json={"destination_0": tel(TEL_0)})
        target = f"/v1.0/outdials/{outdial_id}/targets/{made.json()['id']}"
        dial = http.post(target + "/dials").json()
        finished = http.put(
            target + f"/dials/{dial['id']}", json={"result": result, "reason": reason}
        )
        assert finished.status_code == 200, finished.text


def _tally(state: Path) -> dict[str, Any]:
    try:
        tally: dict[str, Any] = json.loads(state.read_text())
        return tally
    except (FileNotFoundError, json.JSONDecodeError):
        return {"results": {}, "reasons": {}}


def test_the_example_keeps_its_tally_across_a_restart(
    service: tuple[str, str], tmp_path: Path
) -> None:
    url, key = service
    state = tmp_path / "tally.json"
    http = httpx.Client(base_url=url, headers=bearer(key), timeout=30)
    outdial_id = http.post("/v1.0/outdials", json={}).json()["id"]
    command = [sys.executable, str(EXAMPLE), "--url", url, "--key", key, "--state", str(state)]

    def follow() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    follower = follow()
    try:
        _finish_dials(http, outdial_id, [("success", ""), ("fail", "busy"), ("fail", "busy")])
        eventually(lambda: _tally(state)["results"] == {"success": 1, "fail": 2}, what="counted")
        follower.send_signal(signal.SIGKILL)
        follower.wait(10)
        _finish_dials(http, outdial_id, [("fail", "noanswer"), ("success", "")])  # while down
        follower = follow()
        _finish_dials(http, outdial_id, [("success", "")])
        eventually(
            lambda: _tally(state)["results"] == {"success": 3, "fail": 3},
            what="every dial counted once",
        )
        assert _tally(state)["reasons"] == {"-": 3, "busy": 2, "noanswer": 1}
    finally:
        follower.terminate()
        _, errors = follower.communicate(timeout=10)
        http.close()
    assert b"Traceback" not in errors, errors.decode()
