"""Fresh stores for a benchmark: a temporary SQLite data directory or PostgreSQL database."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import psycopg

from adapters.stores import Storage

ADMIN_URL = os.environ.get("OUTDIAL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Store:
    kind: str  # "sqlite" or "postgres"
    storage: Storage
    reference_dir: Path | None = None  # where the CRUD reference keeps its SQLite file
    reference_url: str | None = None  # or its PostgreSQL database

    @property
    def service_args(self) -> dict[str, object]:
        if self.storage.database_url:
            return {"database_url": self.storage.database_url}
        return {"data_dir": self.storage.data_dir}

    @property
    def reference_args(self) -> dict[str, object]:
        if self.reference_url:
            return {"database_url": self.reference_url}
        return {"data_dir": self.reference_dir}


@contextmanager
def _database() -> Iterator[str]:
    name = f"outdial_bench_{uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh(kind: str) -> Iterator[Store]:
    """A new, empty store of ``kind``, and one beside it for the reference; gone after."""
    if kind == "postgres":
        with _database() as ours, _database() as theirs:
            yield Store(kind, Storage(database_url=ours), reference_url=theirs)
        return
    with tempfile.TemporaryDirectory(prefix="outdial-bench-") as directory:
        root = Path(directory)
        (root / "reference").mkdir()
        yield Store(kind, Storage(data_dir=root / "var"), reference_dir=root / "reference")
