"""Integration tests run on both stores: a SQLite data directory and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.service import OutdialService
from application.storage import Storage
from projections.runner import ReadModel
from tests.conftest import BOTH_STORES, FakeClock


@pytest.fixture(params=BOTH_STORES)
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
