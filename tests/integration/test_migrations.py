"""The store's own tables by versioned migrations (adapters/migrations.py): a store of the
previous release upgrades with its rows intact, a fresh one gets each migration once even
when processes start together, and a store a newer release migrated refuses to start."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from adapters import migrations
from adapters.keys import key_hash
from adapters.migrations import (
    READ_MODEL,
    SCHEMAS,
    Migrated,
    Schema,
    describe,
    location,
    migrate,
    migrate_store,
)
from adapters.stores import Storage
from api import cli
from api.bootstrap import bootstrap
from api.settings import Settings
from application.idempotency import Answered
from domain.address import Address
from domain.plan import DEFAULT_PLAN
from domain.target import Target
from projections.schema import ADDRESSES, COLUMNS, TARGETS, ZONES, to_json
from projections.targets import created_row, zone_set_members
from tests import previous_release

TRACEBACK = "Traceback (most recent call last)"
LATEST = {schema.name: schema.latest for schema in SCHEMAS}
NOT_DELETED = "9999-01-01 00:00:00.000000"


def _where(storage: Storage) -> list[str]:
    if storage.database_url:
        return ["--database-url", storage.database_url]
    assert storage.data_dir is not None
    return ["--data-dir", str(storage.data_dir)]


def _settings(storage: Storage) -> Settings:
    if storage.database_url:
        return Settings(database_url=storage.database_url)
    assert storage.data_dir is not None
    return Settings(data_dir=storage.data_dir)


def _outdial(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("OUTDIAL_")},
    )


def _select(storage: Storage, dbname: str, sql: str) -> list[tuple[Any, ...]]:
    with previous_release.connection(storage, dbname) as db:
        return [tuple(row) for row in db.execute(sql).fetchall()]


def _versions(storage: Storage) -> set[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for schema in SCHEMAS:
        found |= set(
            _select(storage, schema.file, "SELECT schema, version FROM outdial_schema_versions")
        )
    return found


def _every_version() -> set[tuple[str, int]]:
    return {(s.name, m.version) for s in SCHEMAS for m in s.migrations}


def _dump(storage: Storage) -> list[Any]:
    """Every table, column and index of the service's own, with every row."""
    if storage.database_url:
        statements = [
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        ]
        files = ["readmodel.sqlite3"]
    else:
        statements = ["SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY 1, 2"]
        files = [schema.file for schema in SCHEMAS]
    dump: list[Any] = []
    for dbname in files:
        dump += [_select(storage, dbname, statement) for statement in statements]
    tables = {
        "access.sqlite3": ["outdial_api_keys", "outdial_auth_failures"],
        "idempotency.sqlite3": ["outdial_idempotency"],
        "readmodel.sqlite3": [*COLUMNS, "projection_status", "store_secrets"],
    }
    for dbname, names in tables.items():
        dump += [_select(storage, dbname, f"SELECT * FROM {name} ORDER BY 1") for name in names]
    dump.append(sorted(_versions(storage)))
    return dump


def test_a_store_of_the_previous_release_upgrades_with_its_rows_intact(
    store: str, new_store: Callable[[str], Storage], capsys: pytest.CaptureFixture[str]
) -> None:
    storage = new_store(store)
    postgres = store == "postgres"
    customer, outdial, target, dial = uuid4(), uuid4(), uuid4(), uuid4()
    key = "odk_" + "k" * 43
    then = "2026-01-01 09:00:00.000000"
    plan = to_json(DEFAULT_PLAN)
    tel = '{"type": "tel", "target": "+821100000001"}'
    rows: dict[str, list[dict[str, Any]]] = {
        "outdial_api_keys": [
            {
                "key_hash": key_hash(key),
                "customer_id": customer if postgres else str(customer),
                "name": "from the previous release",
                "created_at": (
                    datetime(2026, 1, 1, tzinfo=UTC) if postgres else "2026-01-01T00:00:00+00:00"
                ),
            }
        ],
        "outdial_idempotency": [
            {
                "customer_id": str(customer),
                "key": "claim-1",
                "fingerprint": "POST /v1.0/outdials abc",
                "seed": "seed-1",
                "status": 200,
                "body": b'{"result": 1}',
                "claimed_at": time.time(),
            }
        ],
        "outdials": [
            {
                "id": str(outdial),
                "customer_id": str(customer),
                "campaign_id": str(uuid4()),
                "name": "Q1",
                "detail": "",
                "data": "",
                "plan": plan,
                "tm_create": then,
                "tm_update": then,
                "tm_delete": NOT_DELETED,
                "version": 1,
            }
        ],
        "targets": [
            {
                "id": str(target),
                "outdial_id": str(outdial),
                "name": "first",
                "detail": "",
                "data": "",
                "status": "dialing",
                "destination_0": tel,
                "try_count_0": 1,
                "try_count_1": 0,
                "try_count_2": 0,
                "try_count_3": 0,
                "try_count_4": 0,
                "tm_create": then,
                "tm_update": then,
                "tm_delete": NOT_DELETED,
                "customer_id": str(customer),
                "version": 2,
                "dial_in_flight": str(dial),
                "succeeded": 0,
            }
        ],
        "dials": [
            {
                "id": str(dial),
                "outdial_id": str(outdial),
                "outdial_target_id": str(target),
                "destination_index": 0,
                "destination": tel,
                "try_count": 1,
                "reference_id": "",
                "status": "progressing",
                "result": "",
                "reason": "",
                "plan": plan,
                "tm_start": then,
                "duration_ms": 0,
                "customer_id": str(customer),
                "destination_target": "+821100000001",
                "timeout_at": "2026-01-01 09:01:00.000000",
                "timed_out": 0,
                "late": 0,
            }
        ],
        "projection_status": [
            {"name": "projection", "holder": "old-host", "heartbeat": 1.5, "error": None}
        ],
    }
    previous_release.make(storage, rows, position=3)

    assert cli.main(["migrate", *_where(storage)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in said] == [
        f"{name}: version 0 -> {latest}" for name, latest in LATEST.items()
    ]
    assert _versions(storage) == _every_version()
    for table, inserted in rows.items():
        dbname = {
            "outdial_api_keys": "access.sqlite3",
            "outdial_idempotency": "idempotency.sqlite3",
        }
        with previous_release.connection(storage, dbname.get(table, "readmodel.sqlite3")) as db:
            cursor = db.execute(f"SELECT * FROM {table}")
            names = [column[0] for column in cursor.description]
            found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        assert [{k: row[k] for k in inserted[0]} for row in found] == inserted, table
        if table == "dials":  # what the events of a dial before actors replay to
            assert [(row["actor"], row["manual"]) for row in found] == [("", 0)]
        if table == "outdial_api_keys":
            assert [row["revoked_at"] for row in found] == [None]
        if table == "targets":  # what the contact rules match and judge it by
            assert [(row["address_0"], row["zones_0"], row["address_1"]) for row in found] == [
                ("+821100000001", "Asia/Seoul", None)
            ]
        if table == "outdials":
            assert [(row["status"], row["calling_window"]) for row in found] == [("running", None)]
        if table == "dials":
            assert [row["time_zones"] for row in found] == ["[]"]
    assert _select(storage, "readmodel.sqlite3", "SELECT * FROM outdial_zone_sets") == [
        (str(outdial), "Asia/Seoul", 1)
    ]

    with bootstrap(_settings(storage)) as services:
        assert services.keys.customer_of(key) == customer
        assert services.read_model.position() == 3
        assert services.read_model.queries.get_outdial(customer, outdial) is not None
        [found_dial] = services.read_model.queries.search_dials(customer).rows
        assert (found_dial["id"], found_dial["actor"], found_dial["manual"]) == (
            str(dial),
            "",
            False,
        )
        claim = services.idempotency.claim(customer, "claim-1", "POST /v1.0/outdials abc")
        assert claim == Answered(200, b'{"result": 1}')
        services.keys.revoke(key)  # the column the previous release lacked
        assert services.keys.customer_of(key) is None
        assert services.read_model.view.secret("page-token") == (
            services.read_model.view.secret("page-token")
        )
    before = _dump(storage)
    again = migrate_store(storage)
    assert [(m.schema, m.before, m.after) for m in again] == [
        (name, latest, latest) for name, latest in LATEST.items()
    ]
    with bootstrap(_settings(storage)):
        pass
    assert _dump(storage) == before


def test_outdial_migrate_on_a_fresh_store_prints_each_schema_before_and_after(
    store: str, new_store: Callable[[str], Storage], capsys: pytest.CaptureFixture[str]
) -> None:
    storage = new_store(store)
    assert cli.main(["migrate", *_where(storage)]) == 0
    where = {s.name: describe(location(storage, s)) for s in SCHEMAS}
    if storage.database_url:
        assert where["access"] == f"PostgreSQL 127.0.0.1:5432/{storage.database_url.split('/')[-1]}"
    assert capsys.readouterr().out.splitlines() == [
        f"{name}: version 0 -> {latest} ({where[name]})" for name, latest in LATEST.items()
    ]
    assert cli.main(["migrate", *_where(storage)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{name}: version {latest} -> {latest} ({where[name]})" for name, latest in LATEST.items()
    ]
    with bootstrap(_settings(storage)) as services:  # the whole store is there
        services.keys.create(uuid4())
        assert services.read_model.position() is None


def test_a_freshly_migrated_store_has_the_columns_the_code_reads_and_writes(
    store: str, new_store: Callable[[str], Storage]
) -> None:
    storage = new_store(store)
    migrate_store(storage)
    expected = {
        **{table: set(columns) for table, columns in COLUMNS.items()},
        "projection_status": {"name", "holder", "heartbeat", "failed_at", "error"},
        "store_secrets": {"name", "value"},
        "outdial_api_keys": {"key_hash", "customer_id", "name", "created_at", "revoked_at"},
        "outdial_auth_failures": {"address", "failed_at"},
        "outdial_idempotency": {
            "customer_id",
            "key",
            "fingerprint",
            "seed",
            "status",
            "body",
            "claimed_at",
        },
    }
    files = {
        "outdial_api_keys": "access.sqlite3",
        "outdial_auth_failures": "access.sqlite3",
        "outdial_idempotency": "idempotency.sqlite3",
    }
    for table, columns in expected.items():
        dbname = files.get(table, "readmodel.sqlite3")
        if storage.database_url:
            sql = (
                "SELECT column_name FROM information_schema.columns "
                f"WHERE table_schema = 'public' AND table_name = '{table}'"
            )
            found = {row[0] for row in _select(storage, dbname, sql)}
        else:
            found = {row[1] for row in _select(storage, dbname, f"PRAGMA table_info({table})")}
        assert found == columns, table


@pytest.mark.slow
def test_two_processes_migrating_a_fresh_store_at_once_apply_each_migration_once(
    store: str, new_store: Callable[[str], Storage]
) -> None:
    storage = new_store(store)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTDIAL_")}
    args = [sys.executable, "-m", "api.cli", "migrate", *_where(storage)]
    running = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in running]
    assert [process.returncode for process in running] == [0, 0], outputs
    lines = [line.split(" (")[0] for out, _ in outputs for line in out.splitlines()]
    for name, latest in LATEST.items():
        assert lines.count(f"{name}: version 0 -> {latest}") == 1, lines
        assert lines.count(f"{name}: version {latest} -> {latest}") == 1, lines
    assert _versions(storage) == _every_version()


def test_migrations_racing_without_the_schema_lock_apply_each_once(
    store: str, new_store: Callable[[str], Storage]
) -> None:
    """A read model `--into` another database is not under the store's schema lock: the
    database's own lock keeps its migrations to one process at a time."""
    storage = new_store(store)
    where = location(storage, READ_MODEL)
    start = threading.Barrier(4)
    done: list[Migrated] = []
    failed: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            done.append(migrate(where, READ_MODEL))
        except BaseException as error:
            failed.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failed == []
    latest = READ_MODEL.latest
    assert sorted((m.before, m.after) for m in done) == [(0, latest)] + [(latest, latest)] * 3
    assert _select(
        storage, READ_MODEL.file, "SELECT schema, version FROM outdial_schema_versions"
    ) == [("read_model", m.version) for m in READ_MODEL.migrations]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_store_a_newer_release_migrated_refuses_to_start_in_one_line(
    store: str, new_store: Callable[[str], Storage], capsys: pytest.CaptureFixture[str]
) -> None:
    storage = new_store(store)
    with bootstrap(_settings(storage)):
        pass
    with previous_release.connection(storage, READ_MODEL.file) as db:
        db.execute(  # as a newer release may have left it
            "CREATE TABLE IF NOT EXISTS outdial_schema_versions (schema TEXT NOT NULL, "
            "version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, "
            "PRIMARY KEY (schema, version))"
        )
        db.execute(
            "INSERT INTO outdial_schema_versions VALUES ('read_model', 99, 'future', 'later')"
        )
    try:
        done = _outdial("serve", *_where(storage), "--port", str(_free_port()), timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("serve started on a store a newer release migrated")
    assert done.returncode == 2, done.stderr
    assert TRACEBACK not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("outdial serve: cannot start: the read_model tables in ")
    assert "schema version 99" in line
    assert f"versions up to {READ_MODEL.latest}" in line

    assert cli.main(["migrate", *_where(storage)]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert line.startswith("outdial migrate: the read_model tables in ")
    assert "schema version 99" in line
    assert TRACEBACK not in captured.err


def test_a_new_sqlite_file_in_a_new_directory_migrates_from_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x" / "readmodel.sqlite3"
    assert migrate(str(path), READ_MODEL) == Migrated("read_model", str(path), 0, READ_MODEL.latest)
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT COUNT(*) FROM outdial_schema_versions").fetchone() == (
            len(READ_MODEL.migrations),
        )


def test_a_read_model_of_the_release_before_the_contact_rules_gains_what_they_need(
    store: str, new_store: Callable[[str], Storage], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 1's targets get the addresses and zone keys the projection gives a new target,
    read and written a batch at a time, and their outdials the zone sets."""
    storage = new_store(store)
    where = location(storage, READ_MODEL)
    version_1 = Schema(READ_MODEL.name, READ_MODEL.file, READ_MODEL.migrations[:1])
    assert migrate(where, version_1) == Migrated("read_model", describe(where), 0, 1)
    customer, outdials = uuid4(), [uuid4(), uuid4()]
    kinds = [
        [Address("tel", "+821100000001"), None, Address("sip", "ops@example.com"), None, None],
        [Address("whatsapp", "+12125550100"), Address("tel", "+18005550100"), None, None, None],
        [None, Address("tel", "+999123456789"), None, None, Address("email", "a@example.com")],
        [Address("extension", "+1212ab"), Address("tel", "+821100000002"), None, None, None],
        [Address("agent", str(uuid4())), None, None, None, None],
    ]
    expected = []
    for n in range(7):  # more than a batch (3 here): the backfill pages by id
        target = Target.create(
            target_id=uuid4(),
            outdial_id=outdials[n % 2],
            customer_id=customer,
            destinations=kinds[n % len(kinds)],
            at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        expected.append(created_row(target.collect_events()[0]))  # type: ignore[arg-type]
    new = {*ADDRESSES, *ZONES, "closed", "finished", "retry_at"}  # columns of later migrations
    with previous_release.connection(storage, READ_MODEL.file) as db:
        mark = "%s" if storage.database_url else "?"
        for row in expected:
            old = {k: v for k, v in row.items() if k not in new}
            db.execute(
                f"INSERT INTO targets ({', '.join(old)}) VALUES ({', '.join([mark] * len(old))})",
                tuple(old.values()),
            )
    monkeypatch.setattr(migrations, "_BACKFILL_BATCH", 3)
    assert migrate(where, READ_MODEL) == Migrated(
        "read_model", describe(where), 1, READ_MODEL.latest
    )
    columns = ", ".join(COLUMNS[TARGETS])
    found = _select(storage, READ_MODEL.file, f"SELECT {columns} FROM targets ORDER BY id")
    assert [dict(zip(COLUMNS[TARGETS], row, strict=True)) for row in found] == sorted(
        expected, key=lambda row: row["id"]
    )
    keys = {member for row in expected for member in zone_set_members(row)}
    zone_keys = {key for _, key, _ in keys}
    assert {"Asia/Seoul", "America/New_York"} < zone_keys
    assert any(" " in key for key in zone_keys)  # the toll-free number's many zones
    assert set(_select(storage, READ_MODEL.file, "SELECT * FROM outdial_zone_sets")) == keys
