"""The operations commands of the console script, on the embedded store."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from uuid import uuid4

import pytest

from adapters.event_log import StoredEventLog
from adapters.read_model_store import open_view, read_model_env
from adapters.stores import Storage
from api.cli import main
from application.service import OutdialService
from projections.verify import verifying
from tests.conftest import new_target
from tests.integration.conftest import caught_up, projected


def some_history(service: OutdialService) -> tuple[str, str]:
    customer = uuid4()
    outdial = service.create_outdial(customer, name="ops").value
    target = service.create_target(
        customer, outdial.id, new_target("+821100000001", "+821100000002")
    ).value
    dial = service.start_dial(customer, outdial.id, target.id).value
    service.finish_dial(customer, outdial.id, target.id, dial.id, result="fail", reason="busy")
    return str(outdial.id), str(target.id)


def test_verify_passes_after_a_forced_restart_and_names_a_tampered_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = Storage(data_dir=tmp_path)
    service = OutdialService(storage.event_store_env())
    events = StoredEventLog(service, storage)
    with projected(storage, events) as projection:
        some_history(service)
        assert caught_up(projection.read_model)
    # The process died: events keep arriving while nothing projects.
    _, target_id = some_history(service)
    with projected(storage, events) as projection:  # a new one picks up where it was
        assert caught_up(projection.read_model)
    events.close()
    service.close()
    assert main(["verify", "--data-dir", str(tmp_path)]) == 0
    assert "0 difference(s)" in capsys.readouterr().out

    with sqlite3.connect(tmp_path / "readmodel.sqlite3") as connection:
        connection.execute("UPDATE targets SET try_count_0 = 7 WHERE id = ?", (target_id,))
    assert main(["verify", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"targets {target_id} try_count_0: expected 1, read model has 7" in out


def test_rebuild_restores_a_tampered_read_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = Storage(data_dir=tmp_path)
    service = OutdialService(storage.event_store_env())
    some_history(service)
    service.close()
    assert main(["rebuild", "--data-dir", str(tmp_path)]) == 0
    with sqlite3.connect(tmp_path / "readmodel.sqlite3") as connection:
        connection.execute("DELETE FROM dials")
    assert main(["verify", "--data-dir", str(tmp_path)]) == 1
    assert main(["rebuild", "--data-dir", str(tmp_path)]) == 0
    assert main(["verify", "--data-dir", str(tmp_path)]) == 0
    assert "projected 4 events" in capsys.readouterr().err


def test_rebuild_until_needs_a_separate_store(tmp_path: Path) -> None:
    assert main(["rebuild", "--data-dir", str(tmp_path), "--until", "2"]) == 2


def test_rebuild_until_into_a_separate_store(tmp_path: Path) -> None:
    storage = Storage(data_dir=tmp_path / "var")
    service = OutdialService(storage.event_store_env())
    _, target_id = some_history(service)
    service.close()
    copy = tmp_path / "then.sqlite3"
    argv = ["rebuild", "--data-dir", str(tmp_path / "var"), "--until", "2", "--into", str(copy)]
    assert main(argv) == 0
    with sqlite3.connect(copy) as connection:
        status, tries = connection.execute(
            "SELECT status, try_count_0 FROM targets WHERE id = ?", (target_id,)
        ).fetchone()
        assert (status, tries) == ("idle", 0)  # position 2 is the target's Created
        assert connection.execute("SELECT COUNT(*) FROM dials").fetchone() == (0,)


def test_replay_prints_each_event_and_what_it_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = OutdialService(Storage(data_dir=tmp_path).event_store_env())
    _, target_id = some_history(service)
    service.close()
    assert main(["replay", target_id, "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"target {target_id}: 3 events"
    assert all(len(line) <= 80 for line in lines)  # readable in an 80-column terminal
    blocks = out.split("\n\n")[1:]  # one block per event
    assert [block.split()[1] for block in blocks] == ["Created", "DialStarted", "DialFinished"]
    created, started, finished = blocks
    assert "  destination_0: tel:+821100000001" in created
    assert "  status: idle -> progressing" in started
    assert "  try_count_0: 0 -> 1" in started
    assert "name" not in started  # only what changed
    assert "  status: progressing -> idle" in finished
    assert main(["replay", target_id, "--json", "--data-dir", str(tmp_path)]) == 0
    wire = json.loads(capsys.readouterr().out)["result"]
    assert [step["event"]["type"] for step in wire] == ["Created", "DialStarted", "DialFinished"]
    assert main(["replay", str(uuid4()), "--data-dir", str(tmp_path)]) == 1


@pytest.mark.parametrize(
    "command",
    [["verify"], ["rebuild"], ["replay", "5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"]],
)
def test_commands_refuse_a_data_directory_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    typo = tmp_path / "a" / "typo"
    assert main([*command, "--data-dir", str(typo)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [err.splitlines()[0]]
    assert f"data directory {typo} does not exist" in err
    assert not (tmp_path / "a").exists()  # nothing created


@pytest.mark.postgres
def test_verify_outlasts_the_librarys_idle_in_transaction_limit(
    postgres_storage: Storage,
) -> None:
    """verify reads the events and the read model side by side, each stream waiting in its
    transaction while the other is read: at a million targets longer than the limit the
    library sets on its connections. Here the limit is 1 s and both wait 2 s."""
    limit = {"POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "1"}
    service = OutdialService({**postgres_storage.event_store_env(), **limit})
    events = StoredEventLog(service, postgres_storage)
    with projected(postgres_storage, events) as projection:
        some_history(service)
        assert caught_up(projection.read_model)
    view = open_view(
        {**read_model_env(postgres_storage), **{f"READMODEL_{k}": v for k, v in limit.items()}}
    )
    try:
        with verifying(events, view) as (position, differences):
            time.sleep(2)
            assert position > 0
            assert list(differences) == []
    finally:
        view.close()
        events.close()
        service.close()
