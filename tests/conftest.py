"""Fixtures shared by every test layer.

Names mean one thing across the suite: ``service`` is an OutdialService on the in-memory
store, ``stored_service`` one on a real store (tests/integration), ``app`` the FastAPI app
(tests/e2e); ``store`` is the kind of store ("sqlite" or "postgres") and ``storage`` a
fresh store of that kind.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import psycopg
import pytest
from hypothesis import settings

from adapters.stores import Storage
from application.service import NewTarget, OutdialService
from domain.address import Address

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
T = TypeVar("T")


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


# -- waiting -----------------------------------------------------------------------------


def wait_for(
    condition: Callable[[], T | None], *, timeout: float, interval: float = 0.05
) -> T | None:
    """Poll ``condition`` until it returns something true, and return that; None if it has
    not within ``timeout`` seconds. Waiting for something is this, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def eventually(
    condition: Callable[[], T | None],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "",
) -> T:
    """``wait_for``, failing the test if ``condition`` has not held within ``timeout``."""
    result = wait_for(condition, timeout=timeout, interval=interval)
    if not result:
        pytest.fail(f"still not {what or 'so'} after {timeout} s")
    return result


def throughout(condition: Callable[[], object], *, seconds: float, interval: float = 0.02) -> None:
    """Fail unless ``condition`` holds every time it is looked at for ``seconds``: for
    what must stay as it is (a halted projection, a waiting lock), where the wait is the
    behaviour under test."""
    deadline = time.monotonic() + seconds
    while True:
        assert condition(), "it changed"
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


# -- property tests ----------------------------------------------------------------------

# `make test-fast` (slow tests deselected) is the inner loop: property tests run fewer
# examples there; the whole suite runs them all.
settings.register_profile("inner-loop", max_examples=20)


# Paths pytest leaves out of the collection, from this directory.
collect_ignore: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    inner_loop = "not slow" in (config.getoption("markexpr") or "")
    if inner_loop and config.getoption("--hypothesis-profile", None) is None:
        settings.load_profile("inner-loop")
    if inner_loop:
        # Every test of the fuzzer is slow, and collecting them builds its app and schema.
        collect_ignore.append("e2e/test_fuzz.py")


def examples(full: int) -> int:
    """The examples of a property test that asks for ``full`` of them in the whole suite."""
    inner_loop = settings.get_current_profile_name() == "inner-loop"
    return max(10, full // 5) if inner_loop else full


# -- the application -----------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(clock: FakeClock) -> Iterator[OutdialService]:
    """The application on the in-memory store."""
    in_memory = OutdialService(clock=clock)
    yield in_memory
    in_memory.close()


@pytest.fixture
def customer() -> UUID:
    return uuid4()


# -- stores ----------------------------------------------------------------------------

POSTGRES_ADMIN_URL = os.environ.get(
    "OUTDIAL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

# Both stores, for tests that expect the same behaviour of each.
BOTH_STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# For a test whose subject (a rule of the domain or of a request's fields, a header, a
# presenter) is the same whatever the store: on SQLite alone, as PostgreSQL would repeat it.
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"])


def on_postgres(*values: object) -> Any:
    """A parameter set, store first, of a test parametrized by ``store`` and more: these
    values on PostgreSQL too, where the others run on SQLite alone."""
    return pytest.param("postgres", *values, marks=pytest.mark.postgres)


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
    copied from it skips creating the schema."""
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


class Stores:
    """Makes fresh, empty stores of a kind ("sqlite" or "postgres"), each a directory under
    ``directory`` or a database of its own; ``drop`` drops the databases.

    Without a PostgreSQL server a test asking for one is skipped, except under CI=true,
    where a missing PostgreSQL fails the run instead of hiding half the suite.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.databases: list[str] = []

    def make(self, kind: str, template: str = "template1") -> Storage:
        if kind == "sqlite":
            return Storage(data_dir=self.directory / f"var-{uuid4().hex[:6]}")
        name = f"outdial_test_{uuid4().hex[:12]}"
        with _postgres_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.databases.append(name)
        return Storage(database_url=f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}")

    def drop(self) -> None:
        if self.databases:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                for name in self.databases:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.databases.clear()


@pytest.fixture
def new_store(tmp_path: Path) -> Iterator[Callable[..., Storage]]:
    """Makes fresh, empty stores of a kind for the test, dropped afterwards."""
    stores = Stores(tmp_path)
    yield stores.make
    stores.drop()


@pytest.fixture
def sqlite_storage(tmp_path: Path) -> Storage:
    return Storage(data_dir=tmp_path / "var")


@pytest.fixture
def postgres_storage(new_store: Callable[..., Storage], postgres_template: str) -> Storage:
    """A database of its own for each test (its tables made, no rows), dropped afterwards."""
    return new_store("postgres", postgres_template)


@pytest.fixture(params=BOTH_STORES)
def store(request: pytest.FixtureRequest) -> str:
    """SQLite, then PostgreSQL: the same behaviour is expected of both (SQLITE_ONLY
    narrows a test to the first)."""
    kind: str = request.param
    return kind


@pytest.fixture
def storage(store: str, request: pytest.FixtureRequest) -> Storage:
    """A fresh store of the test's kind."""
    fresh: Storage = request.getfixturevalue(f"{store}_storage")
    return fresh
