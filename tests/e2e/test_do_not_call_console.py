"""`outdial dnc import|export`: a do-not-call list imported once however often it runs,
every row checked before anything is written, and exported as CSV that imports again or as
the API's wire objects."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import cli
from api.cli.do_not_call import EXPORT_COLUMNS
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import TEL_0, TEL_1, create_outdial, ok, serving_of

pytestmark = pytest.mark.shared_app

LIST = "/v1.0/do_not_call"
EVERY_OUTDIAL = "00000000-0000-0000-0000-000000000000"


def listed(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(client.get(LIST, params=params))["result"]
    return found


def in_a_day() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S.%f")


def _where(app: FastAPI) -> list[str]:
    settings = serving_of(app).settings
    if settings.database_url:
        return ["--database-url", settings.database_url]
    return ["--data-dir", str(settings.data_dir)]


def _customer(client: TestClient) -> str:
    customer: str = create_outdial(client)["customer_id"]
    return customer


def _lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(("outdial ", "imported "))]


def test_a_list_imports_once_and_exports_to_import_again(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial = create_outdial(client)
    customer = outdial["customer_id"]
    expiry = in_a_day()
    file = tmp_path / "dnc.csv"
    file.write_text(
        "target,match,outdial_id,reason,expires_at,note\n"
        f"{TEL_0},,,asked on the phone,,x\n"
        f"+8210,prefix,,'=HYPERLINK(1),{expiry},\n"
        f" alice@example.com ,exact,{outdial['id']},,,\n"
    )
    argv = ["dnc", "import", str(file), "--customer-id", customer, *_where(app)]
    assert cli.main(argv) == 0
    said = _lines(capsys.readouterr().err)
    assert said[0] == "outdial dnc import: ignoring columns note"
    assert said[-1].startswith("imported 3 do-not-call entries")
    entries = {e["target"]: e for e in listed(client)}  # the serving service sees them
    assert set(entries) == {TEL_0, "+8210", "alice@example.com"}
    assert entries[TEL_0]["reason"] == "asked on the phone"
    assert entries[TEL_0]["actor"] == "system:import"
    assert (entries["+8210"]["match"], entries["+8210"]["reason"]) == ("prefix", "=HYPERLINK(1)")
    assert entries["+8210"]["expires_at"] == expiry
    assert entries["alice@example.com"]["outdial_id"] == outdial["id"]

    assert cli.main(argv) == 0  # again: nothing twice, nothing recorded
    capsys.readouterr()
    assert len(listed(client)) == 3
    for entry in entries.values():
        assert len(ok(client.get(f"{LIST}/{entry['id']}/events"))["result"]) == 1

    exported = tmp_path / "exported.csv"
    export = ["dnc", "export", "--customer-id", customer, *_where(app)]
    assert cli.main([*export, "--output", str(exported)]) == 0
    assert "exported 3 do-not-call entries" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(exported.read_text(), newline="")))
    assert list(rows[0]) == EXPORT_COLUMNS
    by_target = {row["target"]: row for row in rows}
    assert by_target["+8210"]["reason"] == "'=HYPERLINK(1)"  # no spreadsheet runs it
    assert by_target[TEL_0]["outdial_id"] == EVERY_OUTDIAL
    # The exported file imports again, as a no-op for the same customer...
    assert cli.main(["dnc", "import", str(exported), "--customer-id", customer, *_where(app)]) == 0
    capsys.readouterr()
    for entry in entries.values():
        assert len(ok(client.get(f"{LIST}/{entry['id']}/events"))["result"]) == 1
    # ...and as JSON Lines each line is the API's wire object.
    assert cli.main([*export, "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == listed(client)
    assert cli.main([*export, "--format", "jsonl", "--target", TEL_0]) == 0
    assert [json.loads(x)["target"] for x in capsys.readouterr().out.splitlines()] == [TEL_0]


@SQLITE_ONLY
def test_a_list_with_bad_rows_imports_nothing_unless_they_are_skipped(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    customer = _customer(client)
    file = tmp_path / "bad.csv"
    file.write_text(
        "target,match,outdial_id,reason,expires_at\n"
        f"{TEL_0},,,,\n"
        "+12,,,,\n"
        f"{TEL_1},fuzzy,,,\n"
        f"{TEL_1},,{uuid4()},,\n"
        f"{TEL_1},,,,2020-01-01 00:00:00\n"
        f"{TEL_1},,,a\x00b,\n"
    )
    argv = ["dnc", "import", str(file), "--customer-id", customer, *_where(app)]
    assert cli.main(argv) == 1
    said = _lines(capsys.readouterr().err)
    assert [line.split(":")[1:3] for line in said[:5]] == [
        [" line 3", " target"],
        [" line 4", " match"],
        [" line 5", " outdial_id"],
        [" line 6", " expires_at"],
        [" line 7", " reason"],
    ]
    assert said[5].startswith("outdial dnc import: 5 bad rows, nothing imported")
    assert listed(client) == []
    assert cli.main([*argv, "--skip-invalid"]) == 0
    assert _lines(capsys.readouterr().err)[-1].endswith("skipped bad lines 3, 4, 5, 6, 7")
    assert [e["target"] for e in listed(client)] == [TEL_0]

    headless = tmp_path / "headless.csv"
    headless.write_text("number\n+821100000001\n")
    assert cli.main(["dnc", "import", str(headless), "--customer-id", customer, *_where(app)]) == 1
    assert _lines(capsys.readouterr().err) == [
        "outdial dnc import: the header has no target column"
    ]
    export = ["dnc", "export", "--customer-id", customer, "--target", "+82\x00", *_where(app)]
    assert cli.main(export) == 2
    assert _lines(capsys.readouterr().err)[0].startswith(
        "outdial dnc export: --target: must not hold control character U+0000"
    )
