"""`outdial import`: every row checked before anything is written, bad rows named by line,
field and reason, resumable, the extra address columns, and an exported file imports again;
a serving service sees the targets at once."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4, uuid5

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.stores import Storage
from api import cli
from api.cli import rows
from application.history import stored_events
from application.service import NewTarget, OutdialService
from domain.address import Address
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import (
    TEL_0,
    TEL_1,
    bearer,
    create_outdial,
    make_app,
    ok,
    serving_of,
    targets_path,
)

pytestmark = pytest.mark.shared_app

GOOD = f"""name,destination_0,destination_1,destination_1_name,status,try_count_0
Alice,{TEL_0},sip:alice@example.com,Alice at work,idle,0
Bob,{TEL_1},,,done,3
,email:carol@example.com,,,,
"""


def _where(app: FastAPI) -> list[str]:
    settings = serving_of(app).settings
    if settings.database_url:
        return ["--database-url", settings.database_url]
    return ["--data-dir", str(settings.data_dir)]


def _listed(client: TestClient, outdial: str) -> list[dict[str, object]]:
    rows = ok(client.get(targets_path(outdial), params={"page_size": 100}))["result"]
    return sorted(rows, key=lambda t: str(t["name"]))


def _lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(("outdial ", "imported "))]


def test_a_file_imports_with_its_extra_columns_and_a_rerun_creates_nothing(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    file.write_text(GOOD)
    assert cli.main(["import", outdial, str(file), *_where(app)]) == 0
    said = _lines(capsys.readouterr().err)
    assert said[0] == "outdial import: ignoring columns status, try_count_0"
    assert said[-1].startswith("imported 3 targets")
    targets = _listed(client, outdial)  # the serving service sees them at once
    assert [t["name"] for t in targets] == ["", "Alice", "Bob"]
    alice = targets[1]
    blank = {"target_name": "", "name": "", "detail": ""}
    assert alice["destination_0"] == {"type": "tel", "target": TEL_0, **blank}
    assert alice["destination_1"]["type"] == "sip"  # type: ignore[index]
    assert alice["destination_1"]["name"] == "Alice at work"  # type: ignore[index]
    assert targets[0]["destination_0"]["type"] == "email"  # type: ignore[index]
    events = stored_events(serving_of(app).services.service, UUID(str(alice["id"])))
    assert events[0].actor == "system:import"  # type: ignore[attr-defined]

    assert cli.main(["import", outdial, str(file), *_where(app)]) == 0  # run again
    assert "imported 0 targets" in _lines(capsys.readouterr().err)[-1]
    assert len(_listed(client, outdial)) == 3


@SQLITE_ONLY
def test_bad_rows_are_named_and_nothing_is_imported_unless_skipped(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial = create_outdial(client)["id"]
    file = tmp_path / "bad.csv"
    file.write_text(
        f"name,destination_0,destination_1\nok,{TEL_0},\nbad,12345,\nworse,,\nx\x00y,{TEL_1},\n"
    )
    assert cli.main(["import", outdial, str(file), *_where(app)]) == 1
    said = _lines(capsys.readouterr().err)
    assert said[0].startswith("outdial import: line 3: destination_0.type: is required")
    assert said[1] == "outdial import: line 4: destination_0: at least one destination must be set"
    assert said[2].startswith(
        "outdial import: line 5: name: must not hold control character U+0000"
    )
    assert said[3].startswith("outdial import: 3 bad rows, nothing imported")
    assert _listed(client, outdial) == []

    assert cli.main(["import", outdial, str(file), "--skip-invalid", *_where(app)]) == 0
    assert _lines(capsys.readouterr().err)[-1].endswith("skipped bad lines 3, 4, 5")
    assert [t["name"] for t in _listed(client, outdial)] == ["ok"]


def test_an_exported_targets_file_imports_again(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    file.write_text(GOOD)
    assert cli.main(["import", source, str(file), *_where(app)]) == 0
    exported = tmp_path / "exported.csv"
    assert cli.main(["export", "targets", source, "--output", str(exported), *_where(app)]) == 0
    copy = create_outdial(client)["id"]
    assert cli.main(["import", copy, str(exported), *_where(app)]) == 0
    capsys.readouterr()

    def shape(target: dict[str, object]) -> tuple[object, ...]:
        return (target["name"], *(target[f"destination_{n}"] for n in range(5)))

    assert [shape(t) for t in _listed(client, copy)] == [shape(t) for t in _listed(client, source)]


@SQLITE_ONLY
def test_an_outdial_that_is_not_there_or_a_missing_file_is_one_line_and_exit_2(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "list.csv"
    file.write_text(GOOD)
    missing = "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"
    assert cli.main(["import", missing, str(file), *_where(app)]) == 2
    outdial = create_outdial(client)["id"]
    assert cli.main(["import", outdial, str(tmp_path / "nope.csv"), *_where(app)]) == 2
    assert len(_lines(capsys.readouterr().err)) == 2


def test_with_no_service_running_the_import_brings_the_read_model_along(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "var"
    service = OutdialService(Storage(data_dir=data).event_store_env())
    customer = uuid4()
    outdial = service.create_outdial(customer).value.id
    service.close()
    file = tmp_path / "list.csv"
    file.write_text(GOOD)
    assert cli.main(["import", str(outdial), str(file), "--data-dir", str(data)]) == 0
    assert cli.main(["verify", "--data-dir", str(data)]) == 0
    assert "0 difference(s)" in capsys.readouterr().out
    app = make_app(data)
    with TestClient(app, headers=bearer(serving_of(app).services.keys.create(customer))) as client:
        assert len(_listed(client, str(outdial))) == 3


def test_a_rerun_with_other_batches_creates_only_the_rows_not_there(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An import cut short after two rows, run again in batches of three: the batch holds
    rows the first run wrote and one it did not, and only that one is created."""
    outdial = create_outdial(client)["id"]
    head, full = tmp_path / "head.csv", tmp_path / "list.csv"
    full.write_text(GOOD)
    head.write_text("".join(GOOD.splitlines(keepends=True)[:3]))  # the header and two rows
    assert cli.main(["import", outdial, str(head), *_where(app)]) == 0
    first = {t["id"] for t in _listed(client, outdial)}
    assert len(first) == 2
    capsys.readouterr()
    again = ["import", outdial, str(full), "--batch-size", "3", *_where(app)]
    assert cli.main(again) == 0
    said = _lines(capsys.readouterr().err)[-1]
    assert said.startswith("imported 1 targets")
    assert said.endswith("; 2 already there")
    targets = _listed(client, outdial)
    assert len(targets) == 3
    assert first <= {t["id"] for t in targets}


def test_imported_ids_sort_by_line_and_an_import_begun_with_the_earlier_ids_goes_on(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "list.csv"
    file.write_text(GOOD)
    outdial = create_outdial(client)["id"]
    assert cli.main(["import", outdial, str(file), *_where(app)]) == 0
    targets = sorted(_listed(client, outdial), key=lambda t: str(t["id"]))
    assert [UUID(str(t["id"])).version for t in targets] == [8, 8, 8]
    assert [t["name"] for t in targets] == ["Alice", "Bob", ""]  # lines 2, 3, 4

    # An import that began before ids sorted, cut short after its first row (line 2),
    # whose id was a UUIDv5 of the outdial, the line and the known columns' content.
    earlier = create_outdial(client)
    content = "\x1f".join(
        f"{column}={value}"
        for column, value in (
            ("destination_0", TEL_0),
            ("destination_1", "sip:alice@example.com"),
            ("destination_1_name", "Alice at work"),
            ("name", "Alice"),
        )
    )
    digest = hashlib.sha256(content.encode()).hexdigest()
    alice_id = uuid5(UUID(earlier["id"]), f"import/2/{digest}")
    alice = NewTarget([Address("tel", TEL_0), None, None, None, None], name="Alice", id=alice_id)
    service = serving_of(app).services.service
    service.create_targets(UUID(earlier["customer_id"]), UUID(earlier["id"]), [alice])
    capsys.readouterr()
    assert cli.main(["import", earlier["id"], str(file), *_where(app)]) == 0
    assert _lines(capsys.readouterr().err)[-1].endswith("; 1 already there")
    targets = _listed(client, earlier["id"])
    assert len(targets) == 3  # Alice once, the others with ids of the same kind
    assert {UUID(str(t["id"])).version for t in targets} == {5}
    assert alice_id in {UUID(str(t["id"])) for t in targets}


def test_an_id_another_resource_holds_stops_the_import(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = create_outdial(client)
    outdial = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    file.write_text(f"id,name,destination_0\n{other['id']},Alice,{TEL_0}\n")
    assert cli.main(["import", outdial, str(file), "--keep-ids", *_where(app)]) == 1
    said = _lines(capsys.readouterr().err)[-1]
    assert said == f"outdial import: stopped: id: {other['id']} is taken by another resource"
    assert _listed(client, outdial) == []


@SQLITE_ONLY
def test_a_file_that_is_not_utf8_is_one_line_naming_it_and_nothing_is_imported(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    file.write_bytes(f"name,destination_0\nA,{TEL_0}\n".encode() + "김,".encode("euc-kr") + b"\n")
    assert cli.main(["import", outdial, str(file), *_where(app)]) == 1
    assert _lines(capsys.readouterr().err) == [
        "outdial import: line 3: the file is not UTF-8 text (save it as 'CSV UTF-8'); "
        "nothing imported"
    ]
    assert _listed(client, outdial) == []


@SQLITE_ONLY
def test_a_file_whose_lines_end_in_a_carriage_return_alone_imports(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an old spreadsheet saves as 'CSV (Macintosh)'."""
    outdial = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    file.write_bytes(f"name,destination_0\rAlice,{TEL_0}\rBob,{TEL_1}\r".encode())
    assert cli.main(["import", outdial, str(file), *_where(app)]) == 0
    assert [t["name"] for t in _listed(client, outdial)] == ["Alice", "Bob"]
    file.write_bytes(f"name,destination_0\rA,{TEL_0}\r".encode() + "김,".encode("euc-kr") + b"\r")
    assert cli.main(["import", outdial, str(file), *_where(app)]) == 1
    assert _lines(capsys.readouterr().err)[-1].startswith("outdial import: line 3: the file is not")


@SQLITE_ONLY
def test_a_cell_of_megabytes_is_a_bad_row_and_one_beyond_any_limit_stops_the_import(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    big = "x" * 2 * 2**20
    file.write_text(f"name,destination_0,data\nok,{TEL_0},\nbig,{TEL_1},{big}\n")
    assert cli.main(["import", outdial, str(file), *_where(app)]) == 1
    assert _lines(capsys.readouterr().err)[:2] == [
        f"outdial import: line 3: data: must be at most 16384 characters, got {len(big)}",
        "outdial import: 1 bad rows, nothing imported (--skip-invalid imports the others)",
    ]
    assert cli.main(["import", outdial, str(file), "--skip-invalid", *_where(app)]) == 0
    assert _lines(capsys.readouterr().err)[-1].endswith("skipped bad lines 3")
    assert [t["name"] for t in _listed(client, outdial)] == ["ok"]

    other = create_outdial(client)["id"]
    huge = "x" * (rows.CELL_LIMIT + 1)
    file.write_text(f'name,destination_0,data\nok,{TEL_0},\nhuge,{TEL_1},"{huge}"\n')
    for skip in ([], ["--skip-invalid"]):
        assert cli.main(["import", other, str(file), *skip, *_where(app)]) == 1
        assert _lines(capsys.readouterr().err) == [
            f"outdial import: line 3: a cell is longer than {rows.CELL_LIMIT} characters, or a "
            "quoted cell is not closed; nothing imported"
        ]
    assert _listed(client, other) == []


@SQLITE_ONLY
def test_a_quote_not_closed_is_one_line_naming_it_and_nothing_is_imported(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not 'at least one destination must be set' of a cell read on to the end."""
    outdial = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    file.write_text(f'name,destination_0\nok,{TEL_0}\n"Kim, Min-jun,{TEL_1}\nlast,{TEL_1}\n')
    for skip in ([], ["--skip-invalid"]):
        assert cli.main(["import", outdial, str(file), *skip, *_where(app)]) == 1
        assert _lines(capsys.readouterr().err) == [
            "outdial import: line 3: a quoted cell is not closed; nothing imported"
        ]
    assert _listed(client, outdial) == []


@SQLITE_ONLY
def test_a_header_naming_a_column_twice_is_refused(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    file.write_text(f"name,destination_0,destination_0\nAlice,{TEL_0},{TEL_1}\n")
    assert cli.main(["import", outdial, str(file), "--skip-invalid", *_where(app)]) == 1
    assert _lines(capsys.readouterr().err) == [
        "outdial import: the header names column destination_0 twice (columns 2 and 3)"
    ]
    assert _listed(client, outdial) == []


@SQLITE_ONLY
def test_cells_beyond_the_header_are_a_bad_row_and_trailing_empty_ones_are_not(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outdial = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    file.write_text(f"name,destination_0\nKim, Min-jun,{TEL_0}\nAlice,{TEL_1},,,\n,,,{TEL_0}\n")
    assert cli.main(["import", outdial, str(file), *_where(app)]) == 1
    assert _lines(capsys.readouterr().err)[:3] == [
        "outdial import: line 2: has 3 cells, the header has 2",
        "outdial import: line 4: has 4 cells, the header has 2",
        "outdial import: 2 bad rows, nothing imported (--skip-invalid imports the others)",
    ]
    assert cli.main(["import", outdial, str(file), "--skip-invalid", *_where(app)]) == 0
    assert _lines(capsys.readouterr().err)[-1].endswith("skipped bad lines 2, 4")
    assert [t["name"] for t in _listed(client, outdial)] == ["Alice"]


@SQLITE_ONLY
def test_cells_an_export_quoted_against_formulas_import_as_they_were(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The quote is taken off only before a character it is put before."""
    outdial = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    file.write_text(
        "name,detail,data,destination_0,destination_0_name\n"
        f"'=SUM(A1),'+1,'@x,{TEL_0},'-dash\n"
        f"'plain,'',''',{TEL_1},'\n"
    )
    assert cli.main(["import", outdial, str(file), *_where(app)]) == 0
    capsys.readouterr()
    got = sorted(
        (t["name"], t["detail"], t["data"], t["destination_0"]["name"])  # type: ignore[index]
        for t in _listed(client, outdial)
    )
    assert got == [("'plain", "'", "''", "'"), ("=SUM(A1)", "+1", "@x", "-dash")]


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgres"])
def test_an_import_leaves_the_planner_statistics_of_the_tables_it_filled(
    app: FastAPI, client: TestClient, tmp_path: Path
) -> None:
    # Without them the planner plans a dispatch's reads for the rows it saw before the
    # load (docs/operations.md, "Bulk loads").
    outdial = create_outdial(client)["id"]
    file = tmp_path / "list.csv"
    file.write_text(GOOD)
    url = serving_of(app).settings.database_url
    assert url is not None
    with psycopg.connect(url, autocommit=True) as connection:
        before = _analyzed(connection)
        assert cli.main(["import", outdial, str(file), *_where(app)]) == 0
        after = _analyzed(connection)
    tables = {"outdial_events", "outdial_target_keys", "targets", "target_addresses", "do_not_call"}
    assert {t for t in tables if after.get(t) is not None and after[t] != before.get(t)} == tables


def _analyzed(connection: psycopg.Connection[Any]) -> dict[str, object]:
    """When each table was last analyzed by a command (not by autovacuum)."""
    rows = connection.execute("SELECT relname, last_analyze FROM pg_stat_user_tables")
    return dict(rows.fetchall())
