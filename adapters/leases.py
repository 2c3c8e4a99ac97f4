"""Coordination between processes sharing one store.

- ``ProjectionLease``: exactly one projection worker applies events at a time. On
  PostgreSQL it is an advisory lock held by a connection of its own (it goes when the
  process or its connection dies); on SQLite an exclusive lock on a file beside the
  store (it goes when the process dies). The others wait as hot standbys.
- ``creating_schema``: processes that start at the same moment on a fresh store migrate
  and create tables one at a time, so that none fails on another's half-made table.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import psycopg

from adapters.stores import Storage

log = logging.getLogger(__name__)

# Advisory lock keys of this service on PostgreSQL (any constants unlikely to collide).
PROJECTION_LOCK_KEY = 7_071_975_001
SCHEMA_LOCK_KEY = 7_071_975_002
PROJECTION_LOCK_FILE = "projection.lock"
SCHEMA_LOCK_FILE = "schema.lock"


class ProjectionLease:
    """The right to be the one active projection worker of a store."""

    def __init__(self, storage: Storage, *, connect_timeout: float = 5.0) -> None:
        self._storage = storage
        self._connect_timeout = connect_timeout
        self._connection: Any = None
        self._file: IO[str] | None = None
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits. True while this process holds it."""
        with self._lock:
            if self.held:
                return self._still_held()
            if self._storage.database_url:
                return self._acquire_advisory(self._storage.database_url)
            assert self._storage.data_dir is not None
            return self._acquire_file(self._storage.data_dir / PROJECTION_LOCK_FILE)

    def release(self) -> None:
        with self._lock:
            if self._connection is not None:
                with suppress(psycopg.Error):
                    self._connection.close()
                self._connection = None
            if self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
                self._file.close()
                self._file = None

    def _acquire_advisory(self, url: str) -> bool:
        try:
            connection = psycopg.connect(
                url, autocommit=True, connect_timeout=max(1, round(self._connect_timeout))
            )
        except psycopg.Error as error:
            log.warning("cannot reach the database for the projection lease: %s", error)
            return False
        row = connection.execute(
            "SELECT pg_try_advisory_lock(%s)", (PROJECTION_LOCK_KEY,)
        ).fetchone()
        if not row or not row[0]:
            connection.close()
            return False
        self._connection = connection
        return True

    def _acquire_file(self, path: Path) -> bool:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def _still_held(self) -> bool:
        """A lease on PostgreSQL lasts as long as its connection: check that it answers."""
        if self._connection is None:
            return True
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error:
            log.warning("lost the projection lease: its connection to the database broke")
            self._connection = None
            return False
        return True


@contextmanager
def creating_schema(storage: Storage, *, connect_timeout: float = 5.0) -> Iterator[None]:
    """Hold the store's schema lock while the block migrates and opens its tables."""
    if storage.database_url:
        with psycopg.connect(
            storage.database_url, autocommit=True, connect_timeout=max(1, round(connect_timeout))
        ) as connection:
            connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
        return
    if storage.data_dir is None:
        yield
        return
    storage.data_dir.mkdir(parents=True, exist_ok=True)
    with (storage.data_dir / SCHEMA_LOCK_FILE).open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
