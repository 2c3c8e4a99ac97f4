"""The same service on PostgreSQL: events, read model and keys in one database."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from adapters.stores import Storage
from api.bootstrap import bootstrap
from api.server import create_app
from api.settings import Settings
from api.workers.projection import ProjectionWorker
from tests.e2e.conftest import (
    TEL_0,
    TEL_1,
    bearer,
    create_outdial,
    create_target,
    dispatch,
    error_of,
    finish,
    new_key,
    ok,
    targets_path,
)


@pytest.mark.postgres
def test_the_api_runs_on_postgresql(postgres_storage: Storage) -> None:
    assert postgres_storage.database_url
    settings = Settings(database_url=postgres_storage.database_url, sweep_interval_seconds=0.2)
    app = create_app(settings)
    key, other_key = new_key(app), new_key(app)
    with TestClient(app, headers=bearer(key)) as client:
        outdial = create_outdial(client, name="pg")
        target = create_target(client, outdial["id"], TEL_0, TEL_1)
        (dial,) = ok(dispatch(client, outdial["id"]))["result"]
        finished = finish(client, dial, "fail", "busy")
        path = targets_path(outdial["id"], target["id"])
        assert ok(client.get(path)) == finished
        assert ok(client.get(path, params={"version": 1})) == target
        assert [d["id"] for d in ok(client.get("/v1.0/dials"))["result"]] == [dial["id"]]
        assert len(ok(client.get(path + "/replay"))["result"]) == 3
        assert ok(client.get("/readyz"))["lag"] == 0
        error = error_of(client.get(path, headers=bearer(other_key)), 404)
        assert error["reason"] == "OUTDIAL_TARGET_NOT_FOUND"
        assert ok(client.get("/v1.0/outdials", headers=bearer(other_key)))["result"] == []
    with psycopg.connect(postgres_storage.database_url) as connection:
        stored = connection.execute("SELECT key_hash FROM outdial_api_keys").fetchall()
    assert len(stored) == 2
    assert key not in {row[0] for row in stored}


@pytest.mark.postgres
def test_two_api_processes_share_a_separate_projection_worker(
    postgres_storage: Storage,
) -> None:
    """Several API processes on one database, projected by an `outdial project` worker."""
    assert postgres_storage.database_url
    settings = Settings(database_url=postgres_storage.database_url, run_projections=False)
    first, second = create_app(settings), create_app(settings)
    key = new_key(first)
    with bootstrap(settings) as services:
        worker = ProjectionWorker(services)
        worker.start()
        with (
            TestClient(first, headers=bearer(key)) as one,
            TestClient(second, headers=bearer(key)) as other,
        ):
            outdial = create_outdial(one, name="shared")
            target = create_target(other, outdial["id"], TEL_0)
            # Each write waited for the worker, so the other process reads it at once.
            assert ok(one.get(targets_path(outdial["id"], target["id"]))) == target
            assert [o["id"] for o in ok(other.get("/v1.0/outdials"))["result"]] == [outdial["id"]]
        worker.stop()
