"""Where the events live: the embedded SQLite store, PostgreSQL, or memory for tests.

Every entrypoint finds the store the same way: an explicit database URL, else a data
directory holding SQLite files. ``Storage`` says which, and gives the library's settings
for the event store; the small tables of the service's own (keys, idempotency) open
their connections here too.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import psycopg

from adapters.library import (
    WakingPostgresApplicationRecorder,
    WakingSQLiteApplicationRecorder,
    recorder_topic,
)

# Seconds a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 5  # the key and idempotency tables: short lookups and writes
# How long a small table's pool (keys, idempotency) waits for a connection.
POOL_WAIT_S = 5.0
EVENTS_DBNAME = "events.sqlite3"


@dataclass(frozen=True)
class Storage:
    """One of: ``database_url`` (PostgreSQL), ``data_dir`` (SQLite files), or memory."""

    data_dir: Path | None = None
    database_url: str | None = None
    # PostgreSQL: each process's pool, and how long to wait for a statement. Both: how
    # long to wait for a connection, or for another process's write lock on SQLite (a
    # write blocked longer answers 503 rather than hang).
    pool_size: int = 5
    max_overflow: int = 2
    connect_timeout: float = 5.0
    statement_timeout: float = 30.0

    @classmethod
    def in_memory(cls) -> Storage:
        return cls()

    @property
    def kind(self) -> str:
        if self.database_url:
            return "postgres"
        return "sqlite" if self.data_dir is not None else "memory"

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing environment for the application's own event store."""
        if self.database_url:
            return {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "APPLICATION_RECORDER_TOPIC": recorder_topic(WakingPostgresApplicationRecorder),
                **postgres_env(self.database_url),
                "POSTGRES_POOL_SIZE": str(self.pool_size),
                "POSTGRES_MAX_OVERFLOW": str(self.max_overflow),
                "POSTGRES_CONNECT_TIMEOUT": str(max(1, round(self.connect_timeout))),
            }
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / EVENTS_DBNAME),
                "SQLITE_LOCK_TIMEOUT": str(max(1, round(self.connect_timeout))),
                "APPLICATION_RECORDER_TOPIC": recorder_topic(WakingSQLiteApplicationRecorder),
            }
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def small_table_connection(path: str) -> sqlite3.Connection:
    """One connection to a small SQLite file of the service's own (keys, idempotency),
    shared by a process's threads: autocommit, a short busy wait, and WAL, so its readers
    never block a writer in another process (`outdial keys create` while `serve` runs)."""
    connection = sqlite3.connect(
        path, timeout=SQLITE_BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
    )
    if path != ":memory:":
        connection.execute("PRAGMA journal_mode=WAL")
    # What is deleted or overwritten is zeroed, not left in free space (erasures).
    connection.execute("PRAGMA secure_delete=ON")
    return connection


def postgres_env(database_url: str) -> dict[str, str]:
    """The library's POSTGRES_* settings from a ``postgresql://user:pass@host:port/db`` URL."""
    url = urlparse(database_url)
    if url.scheme not in ("postgres", "postgresql") or not url.path.strip("/"):
        msg = f"not a PostgreSQL URL (postgresql://user:pass@host:port/db): {database_url!r}"
        raise ValueError(msg)
    return {
        "POSTGRES_DBNAME": unquote(url.path.lstrip("/")),
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
    }


class StoreUnreachable(Exception):
    """The store named by the settings cannot be used; the message says which and why."""


def check_reachable(storage: Storage) -> None:
    """Fail fast, in one line naming host, port and database, when PostgreSQL does not
    answer or the database does not exist (the library's pool would retry for minutes)."""
    if not storage.database_url:
        return
    env = postgres_env(storage.database_url)
    where = f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}, database {env['POSTGRES_DBNAME']!r}"
    try:
        connection = psycopg.connect(
            storage.database_url, connect_timeout=max(1, round(storage.connect_timeout))
        )
    except psycopg.Error as error:
        # libpq's message: what failed, prefixed by where (said already), each line
        # followed by any hint on a tab-indented line of its own.
        parts: list[str] = []
        for line in str(error).splitlines():
            text = " ".join(line.split())
            text = re.sub(r"^connection failed: ", "", text)
            text = re.sub(r"connection to server (at|on socket) .*? failed: ", "", text)
            text = re.sub(r"^(FATAL|ERROR): ", "", text)
            if not text:
                continue
            if text[:2].istitle():  # "Connection refused", not "SSL"
                text = text[0].lower() + text[1:]
            if line.startswith((" ", "\t")) and parts:
                parts[-1] += f" ({text})"
            else:
                parts.append(text)
        reason = "; ".join(parts) or type(error).__name__
        msg = f"cannot use PostgreSQL at {where}: {reason}"
        raise StoreUnreachable(msg) from None
    connection.close()


def apply_statement_timeout(storage: Storage) -> None:
    """PostgreSQL sessions this process opens cancel statements running longer than the
    storage's statement timeout (libpq reads PGOPTIONS when it connects)."""
    if storage.database_url and storage.statement_timeout > 0:
        option = f"-c statement_timeout={int(storage.statement_timeout * 1000)}"
        existing = os.environ.get("PGOPTIONS", "")
        if "statement_timeout" not in existing:
            os.environ["PGOPTIONS"] = f"{existing} {option}".strip()
