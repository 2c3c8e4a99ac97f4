"""Integration tests run on both stores: a SQLite data directory and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from api.bootstrap import open_read_model
from application.eventlog import StoredEventLog
from application.service import OutdialService
from application.storage import Storage
from projections.runner import LiveProjection, ReadModel
from tests.conftest import BOTH_STORES, FakeClock

WAIT = 10.0


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
def events(stored_app: OutdialService) -> Iterator[StoredEventLog]:
    log = StoredEventLog(stored_app)
    yield log
    log.close()


@contextmanager
def projected(storage: Storage, events: StoredEventLog) -> Iterator[LiveProjection]:
    """The store's read model with a live projection running, as a process would have."""
    projection = LiveProjection(open_read_model(storage, events))
    projection.start()
    try:
        yield projection
    finally:
        projection.stop()
        projection.read_model.close()


@pytest.fixture
def projection(storage: Storage, events: StoredEventLog) -> Iterator[LiveProjection]:
    with projected(storage, events) as running:
        yield running


@pytest.fixture
def read_model(projection: LiveProjection) -> ReadModel:
    return projection.read_model


def caught_up(read_model: ReadModel, timeout: float = WAIT) -> bool:
    """Wait until the read model has applied every event recorded so far."""
    return read_model.wait_until_applied(read_model.head(), timeout)
