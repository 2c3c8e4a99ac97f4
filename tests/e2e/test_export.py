"""`outdial export`: targets and dials streamed out as CSV or JSON Lines, each JSON line
the API's wire object, with the audit search's filters."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import cli
from api.cli.export import DIAL_COLUMNS, TARGET_COLUMNS
from tests.e2e.conftest import TEL_0, TEL_1, create_outdial, finish, host_of, ok, targets_path


def _where(app: FastAPI) -> list[str]:
    settings = host_of(app).settings
    if settings.database_url:
        return ["--database-url", settings.database_url]
    return ["--data-dir", str(settings.data_dir)]


def _campaign(client: TestClient) -> tuple[str, list[dict[str, object]]]:
    outdial = create_outdial(client)["id"]
    ok(client.put(f"/v1.0/outdials/{outdial}/plan", json={"max_try_count_0": 3}))
    sip = {"type": "sip", "target": "alice@example.com", "name": "Alice"}
    made = [
        ok(client.post(targets_path(outdial), json={"destination_0": {"target": TEL_0}})),
        ok(
            client.post(
                targets_path(outdial),
                json={"destination_0": sip, "destination_1": {"target": TEL_1}, "name": "n"},
            )
        ),
    ]
    ok(client.delete(targets_path(outdial, made[0]["id"])))
    dial = ok(client.post(targets_path(outdial, made[1]["id"]) + "/dials"))
    finish(client, dial, "fail", "busy")
    ok(client.post(targets_path(outdial, made[1]["id"]) + "/dials"))
    return outdial, made


def test_targets_as_csv_in_the_import_cell_form_deleted_ones_too(
    app: FastAPI, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial, made = _campaign(client)
    assert cli.main(["export", "targets", outdial, *_where(app)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == TARGET_COLUMNS
    by_id = {row["id"]: row for row in rows}
    assert set(by_id) == {str(t["id"]) for t in made}
    second = by_id[str(made[1]["id"])]
    assert (second["destination_0"], second["destination_0_name"]) == (
        "sip:alice@example.com",
        "Alice",
    )
    assert (second["destination_1"], second["destination_2"]) == (TEL_1, "")
    assert (second["status"], second["try_count_0"]) == ("progressing", "2")
    assert by_id[str(made[0]["id"])]["tm_delete"] != "9999-01-01 00:00:00.000000"


def test_targets_as_json_lines_are_the_wire_objects(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial, _ = _campaign(client)
    out = tmp_path / "targets.jsonl"
    argv = ["export", "targets", outdial, "--format", "jsonl", "--output", str(out)]
    assert cli.main([*argv, *_where(app)]) == 0
    assert "exported 2 targets" in capsys.readouterr().err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    for line in lines:
        assert line == ok(client.get(targets_path(outdial, line["id"])))


def test_dials_with_the_audit_filters(
    app: FastAPI, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial, _ = _campaign(client)
    argv = ["export", "dials", "--outdial-id", outdial, "--format", "jsonl", *_where(app)]
    assert cli.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == ok(client.get("/v1.0/dials", params={"outdial_id": outdial}))["result"]
    assert cli.main([*argv, "--result", "fail"]) == 0
    failed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["result"], d["reason"]) for d in failed] == [("fail", "busy")]
    assert cli.main(["export", "dials", "--outdial-id", outdial, *_where(app)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == DIAL_COLUMNS
    assert {row["destination"] for row in rows} == {"sip:alice@example.com"}


def test_exporting_dials_of_nobody_is_one_line_and_exit_2(
    app: FastAPI, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["export", "dials", *_where(app)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("outdial ")]
    assert err == ["outdial export: export dials needs --customer-id, --outdial-id or --target-id"]
    missing = "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"
    assert cli.main(["export", "targets", missing, *_where(app)]) == 2
