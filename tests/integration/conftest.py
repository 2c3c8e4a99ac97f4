"""Stores for integration tests: a SQLite data directory, and PostgreSQL when reachable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from application.service import OutdialService
from application.storage import Storage
from projections.runner import ReadModel
from tests.conftest import FakeClock

POSTGRES_ADMIN_URL = os.environ.get(
    "OUTDIAL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> Storage:
    return Storage(data_dir=tmp_path / "var")


@pytest.fixture
def postgres_storage() -> Iterator[Storage]:
    """A database of its own for each test, dropped afterwards."""
    name = f"outdial_test_{uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield Storage(database_url=f"{base}/{name}")
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest) -> Storage:
    """Both stores: the same behaviour is expected of each."""
    fixture: Storage = request.getfixturevalue(f"{request.param}_storage")
    return fixture


@pytest.fixture
def stored_app(storage: Storage, clock: FakeClock) -> Iterator[OutdialService]:
    service = OutdialService(storage=storage, clock=clock)
    yield service
    service.close()


@pytest.fixture
def read_model(storage: Storage) -> Iterator[ReadModel]:
    model = ReadModel(storage)
    model.start()
    yield model
    model.close()
