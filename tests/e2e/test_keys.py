"""Managing keys: `keys list` shows every key and never a secret, `keys revoke` revokes
one by itself or by its id, and a running server refuses a revoked key within 2 s."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.keys import ApiKeys, key_hash, key_id
from adapters.stores import Storage
from api import cli
from tests.conftest import SQLITE_ONLY, eventually, on_postgres
from tests.e2e.conftest import error_of, ok, serving_of

pytestmark = pytest.mark.shared_app


def _where(app: FastAPI) -> list[str]:
    settings = serving_of(app).settings
    if settings.database_url:
        return ["--database-url", settings.database_url]
    return ["--data-dir", str(settings.data_dir)]


@pytest.mark.own_app  # it lists every key of the store
def test_keys_list_shows_each_key_by_its_id_and_never_a_secret(
    app: FastAPI, client: TestClient, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = serving_of(app).services.keys
    customer = uuid4()
    dialer = keys.create(customer, name="dialer")
    capsys.readouterr()
    assert cli.main(["keys", "list", *_where(app)]) == 0
    out = capsys.readouterr().out
    assert key not in out
    assert dialer not in out
    assert key_hash(dialer) not in out  # not even the whole hash
    lines = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    assert lines[key_id(key_hash(dialer))][1:3] == [str(customer), "dialer"]
    assert lines[key_id(key_hash(dialer))][4] == "active"
    assert key_id(key_hash(key)) in lines

    assert cli.main(["keys", "list", "--customer-id", str(customer), *_where(app)]) == 0
    only = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in only] == [key_id(key_hash(dialer))]


@pytest.mark.parametrize(
    ("store", "by"), [("sqlite", "key"), ("sqlite", "key id"), on_postgres("key")]
)
def test_a_revoked_key_is_refused_by_a_running_server_within_2_s(
    app: FastAPI, client: TestClient, key: str, by: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(client.get("/v1.0/outdials"))  # known to the server, remembered for a moment
    named = key if by == "key" else key_id(key_hash(key))
    assert cli.main(["keys", "revoke", named, *_where(app)]) == 0
    out = capsys.readouterr().out
    assert key not in out
    assert "\trevoked " in out
    eventually(lambda: client.get("/v1.0/outdials").status_code == 401, timeout=2.0, what="refused")
    error = error_of(client.get("/v1.0/outdials"), 401)
    assert error["reason"] == "INVALID_API_KEY"
    # Revoking again changes nothing and is not an error.
    assert cli.main(["keys", "revoke", named, *_where(app)]) == 0


@SQLITE_ONLY
def test_revoking_a_key_nobody_made_is_one_line_and_exit_1(
    app: FastAPI, client: TestClient, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "odk_" + "x" * 43
    for named, said in [
        (secret, f"no such key: {key_id(key_hash(secret))}"),
        ("kid_000000000000", "no such key: kid_000000000000"),
        ("nonsense", "neither a key"),
    ]:
        assert cli.main(["keys", "revoke", named, *_where(app)]) == 1
        err = capsys.readouterr().err
        said_lines = [line for line in err.splitlines() if line.startswith("outdial ")]
        assert len(said_lines) == 1
        assert said in said_lines[0]
        assert secret not in err
    ok(client.get("/v1.0/outdials"))  # the real key still works


def test_a_key_store_made_before_revoking_gains_the_column(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "access.sqlite3")) as connection:
        connection.execute(
            "CREATE TABLE outdial_api_keys (key_hash TEXT PRIMARY KEY, "
            "customer_id TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL)"
        )
        connection.execute(
            "INSERT INTO outdial_api_keys VALUES (?, ?, '', '2026-01-01T00:00:00+00:00')",
            (key_hash("odk_old"), str(uuid4())),
        )
        connection.commit()
    keys = ApiKeys.open(Storage(data_dir=tmp_path))
    try:
        assert keys.customer_of("odk_old") is not None
        keys.revoke("odk_old")
        assert keys.customer_of("odk_old") is None
    finally:
        keys.close()
