"""`outdial export`: targets and dials streamed out as CSV or JSON Lines, each JSON line
the API's wire object, with the audit search's filters."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import cli
from api.cli.export import DIAL_COLUMNS, TARGET_COLUMNS
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import (
    TEL_0,
    TEL_1,
    bearer,
    create_outdial,
    finish,
    ok,
    serving_of,
    targets_path,
)

pytestmark = pytest.mark.shared_app


def _where(app: FastAPI) -> list[str]:
    settings = serving_of(app).settings
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


@SQLITE_ONLY
def test_exporting_dials_of_nobody_is_one_line_and_exit_2(
    app: FastAPI, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["export", "dials", *_where(app)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("outdial ")]
    assert err == ["outdial export: export dials needs --customer-id, --outdial-id or --target-id"]
    missing = "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"
    assert cli.main(["export", "targets", missing, *_where(app)]) == 2


def test_dials_by_reference_id_and_by_actor(
    app: FastAPI, client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial = create_outdial(client)
    ok(client.put(f"/v1.0/outdials/{outdial['id']}/plan", json={"max_try_count_0": 3}))
    target = ok(client.post(targets_path(outdial["id"]), json={"destination_0": {"target": TEL_0}}))
    other_key = serving_of(app).services.keys.create(UUID(outdial["customer_id"]))
    dials = targets_path(outdial["id"], target["id"]) + "/dials"
    first = ok(client.post(dials, json={"reference_id": "call-1"}))
    finish(client, first, "fail", "busy")
    second = ok(client.post(dials, json={"reference_id": "call-2"}, headers=bearer(other_key)))
    assert first["actor"] != second["actor"]
    argv = ["export", "dials", "--outdial-id", outdial["id"], "--format", "jsonl", *_where(app)]

    def exported(*filters: str) -> list[str]:
        assert cli.main([*argv, *filters]) == 0
        return [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]

    assert sorted(exported()) == sorted([first["id"], second["id"]])
    assert exported("--reference-id", "call-2") == [second["id"]]
    assert exported("--actor", first["actor"]) == [first["id"]]
    assert exported("--actor", second["actor"], "--reference-id", "call-1") == []


FORMULAS = {
    "name": '=HYPERLINK("http://example.com","x")',
    "detail": "+1-555-0100",
    "data": "@SUM(1+1)",
}
QUOTED_EXTRAS = {"name": "-Alice", "target_name": "\tshop", "detail": "'quoted"}


@SQLITE_ONLY
def test_formula_like_cells_are_quoted_on_export_and_import_back_exactly(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OWASP's leading quote on free-text CSV cells, none on destinations; JSON is as is."""
    outdial = create_outdial(client)["id"]
    ok(client.put(f"/v1.0/outdials/{outdial}/plan", json={"max_try_count_0": 3}))
    body = {**FORMULAS, "destination_0": {"target": TEL_0, **QUOTED_EXTRAS}}
    target = ok(client.post(targets_path(outdial), json=body))
    dial = ok(
        client.post(targets_path(outdial, target["id"]) + "/dials", json={"reference_id": "=1"})
    )
    finish(client, dial, "fail", "-busy")

    exported = tmp_path / "targets.csv"
    assert cli.main(["export", "targets", outdial, "--output", str(exported), *_where(app)]) == 0
    row = next(csv.DictReader(io.StringIO(exported.read_text(), newline="")))
    assert {k: row[k] for k in FORMULAS} == {k: "'" + v for k, v in FORMULAS.items()}
    assert {k: row[f"destination_0_{k}"] for k in QUOTED_EXTRAS} == {
        k: "'" + v for k, v in QUOTED_EXTRAS.items()
    }
    assert row["destination_0"] == TEL_0  # the import's number form, as it was

    copy = create_outdial(client)["id"]
    assert cli.main(["import", copy, str(exported), *_where(app)]) == 0
    (imported,) = ok(client.get(targets_path(copy)))["result"]
    fields = ["name", "detail", "data", "destination_0"]
    assert {k: imported[k] for k in fields} == {k: target[k] for k in fields}

    argv = ["export", "dials", "--target-id", target["id"], *_where(app)]
    assert cli.main(argv) == 0
    (dial_row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert (dial_row["reference_id"], dial_row["reason"]) == ("'=1", "'-busy")
    assert cli.main([*argv, "--format", "jsonl"]) == 0
    wire = json.loads(capsys.readouterr().out)
    assert (wire["reference_id"], wire["reason"]) == ("=1", "-busy")
