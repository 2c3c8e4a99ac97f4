"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from adapters.stores import Storage
from application.service import NewTarget, OutdialService
from domain.address import Address

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def tel(number: str = "+821100000001") -> Address:
    return Address(type="tel", target=number)


def new_target(*numbers: str | None, name: str = "") -> NewTarget:
    """A target whose destinations are the given numbers, in order (None leaves a slot unset)."""
    slots: list[Address | None] = [tel(n) if n else None for n in numbers]
    slots += [None] * (5 - len(slots))
    return NewTarget(destinations=slots, name=name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> Iterator[OutdialService]:
    service = OutdialService(clock=clock)
    yield service
    service.close()


@pytest.fixture
def customer() -> UUID:
    return uuid4()


# -- stores ----------------------------------------------------------------------------

POSTGRES_ADMIN_URL = os.environ.get(
    "OUTDIAL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> Storage:
    return Storage(data_dir=tmp_path / "var")


def _postgres_admin() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A database holding every table of the service and no rows: a new test database
    copied from it skips creating the schema (about a third of a second a test)."""
    name = f"outdial_template_{uuid4().hex[:8]}"
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    from api.bootstrap import bootstrap  # imported late: only PostgreSQL tests need it
    from api.settings import Settings

    with bootstrap(Settings(database_url=url)):
        pass
    yield name
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def new_store(tmp_path: Path) -> Iterator[Callable[[str], Storage]]:
    """Makes fresh, empty stores of a kind ("sqlite" or "postgres"), each a directory or
    a database of its own, dropped afterwards.

    Without a PostgreSQL server a test asking for one is skipped, except under CI=true,
    where a missing PostgreSQL fails the run instead of hiding half the suite.
    """
    databases: list[str] = []

    def make(kind: str, template: str = "template1") -> Storage:
        if kind == "sqlite":
            return Storage(data_dir=tmp_path / f"var{len(databases)}-{uuid4().hex[:6]}")
        name = f"outdial_test_{uuid4().hex[:12]}"
        with _postgres_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        databases.append(name)
        return Storage(database_url=f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}")

    yield make
    if databases:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            for name in databases:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_storage(new_store: Callable[..., Storage], postgres_template: str) -> Storage:
    """A database of its own for each test (its tables made, no rows), dropped afterwards."""
    return new_store("postgres", postgres_template)


# Both stores, for tests that expect the same behaviour of each.
BOTH_STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
