"""A store as the release before versioned migrations left it, made by hand: the service's
tables as that code created them (keys without ``revoked_at`` and no failed
authentications table, dials without ``actor`` and ``manual``, no ``store_secrets``, no
``outdial_schema_versions``), and the library's own tables made by the library.

Frozen on purpose: never build these from today's code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.utils import Environment

from adapters.read_model_store import read_model_env
from adapters.stores import Storage

KEYS_SQLITE = (
    "CREATE TABLE IF NOT EXISTS outdial_api_keys (key_hash TEXT PRIMARY KEY, "
    "customer_id TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL)"
)
KEYS_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS outdial_api_keys (key_hash TEXT PRIMARY KEY, "
    "customer_id UUID NOT NULL, name TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)"
)
IDEMPOTENCY_SQLITE = (
    "CREATE TABLE IF NOT EXISTS outdial_idempotency (customer_id TEXT NOT NULL, "
    "key TEXT NOT NULL, fingerprint TEXT NOT NULL, seed TEXT NOT NULL, "
    "status INTEGER, body BLOB, claimed_at REAL NOT NULL, "
    "PRIMARY KEY (customer_id, key))"
)
IDEMPOTENCY_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS outdial_idempotency (customer_id TEXT NOT NULL, "
    "key TEXT NOT NULL, fingerprint TEXT NOT NULL, seed TEXT NOT NULL, "
    "status INTEGER, body BYTEA, claimed_at DOUBLE PRECISION NOT NULL, "
    "PRIMARY KEY (customer_id, key))"
)
DIALS = (
    "CREATE TABLE IF NOT EXISTS dials (id TEXT PRIMARY KEY, outdial_id TEXT, "
    "outdial_target_id TEXT, destination_index INTEGER, destination TEXT, "
    "try_count INTEGER, reference_id TEXT, status TEXT, result TEXT, reason TEXT, "
    "plan TEXT, tm_start TEXT, tm_end TEXT, duration_ms BIGINT, customer_id TEXT, "
    "destination_target TEXT, timeout_at TEXT, timed_out INTEGER, late INTEGER)"
)
READ_MODEL = (
    "CREATE TABLE IF NOT EXISTS outdials (id TEXT PRIMARY KEY, customer_id TEXT, "
    "campaign_id TEXT, name TEXT, detail TEXT, data TEXT, plan TEXT, tm_create TEXT, "
    "tm_update TEXT, tm_delete TEXT, version INTEGER)",
    "CREATE TABLE IF NOT EXISTS targets (id TEXT PRIMARY KEY, outdial_id TEXT, name TEXT, "
    "detail TEXT, data TEXT, status TEXT, destination_0 TEXT, destination_1 TEXT, "
    "destination_2 TEXT, destination_3 TEXT, destination_4 TEXT, try_count_0 INTEGER, "
    "try_count_1 INTEGER, try_count_2 INTEGER, try_count_3 INTEGER, try_count_4 INTEGER, "
    "tm_create TEXT, tm_update TEXT, tm_delete TEXT, customer_id TEXT, version INTEGER, "
    "dial_in_flight TEXT, last_dial_end TEXT, succeeded INTEGER)",
    DIALS,
    "CREATE TABLE IF NOT EXISTS projection_status (name TEXT PRIMARY KEY, "
    "holder TEXT NOT NULL, heartbeat DOUBLE PRECISION NOT NULL, failed_at BIGINT, error TEXT)",
    "CREATE INDEX IF NOT EXISTS outdials_page ON outdials (customer_id, tm_delete, tm_create, id)",
    "CREATE INDEX IF NOT EXISTS targets_live ON targets (outdial_id, tm_delete, tm_create, id)",
    "CREATE INDEX IF NOT EXISTS targets_status ON targets (outdial_id, status, tm_create, id)",
    "CREATE INDEX IF NOT EXISTS targets_page ON targets (outdial_id, tm_create, id)",
    "CREATE INDEX IF NOT EXISTS dials_target ON dials (outdial_target_id, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_customer ON dials (customer_id, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_overdue ON dials (status, timeout_at)",
)


@contextmanager
def connection(storage: Storage, dbname: str) -> Iterator[Any]:
    """A plain connection, committing as it goes, on one database of the store."""
    if storage.database_url:
        with psycopg.connect(storage.database_url, autocommit=True) as postgres:
            yield postgres
        return
    assert storage.data_dir is not None
    storage.data_dir.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(storage.data_dir / dbname, isolation_level=None)) as sqlite:
        yield sqlite


def make(storage: Storage, rows: dict[str, list[dict[str, Any]]], position: int) -> None:
    """The previous release's tables in ``storage``, holding ``rows`` (by table) and the
    read model's tracking position of the application ``outdial``."""
    postgres = bool(storage.database_url)
    mark = "%s" if postgres else "?"
    by_file = {
        "access.sqlite3": [KEYS_POSTGRES if postgres else KEYS_SQLITE],
        "idempotency.sqlite3": [IDEMPOTENCY_POSTGRES if postgres else IDEMPOTENCY_SQLITE],
        "readmodel.sqlite3": list(READ_MODEL),
    }
    table_file = {
        "outdial_api_keys": "access.sqlite3",
        "outdial_idempotency": "idempotency.sqlite3",
    }
    for dbname, statements in by_file.items():
        with connection(storage, dbname) as db:
            for statement in statements:
                db.execute(statement)
            for table, table_rows in rows.items():
                if table_file.get(table, "readmodel.sqlite3") != dbname:
                    continue
                for row in table_rows:
                    names = ", ".join(row)
                    marks = ", ".join([mark] * len(row))
                    db.execute(
                        f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(row.values())
                    )
    # The library's tracking table, made and written by the library.
    factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(
        Environment("readmodel", read_model_env(storage))
    )
    try:
        factory.tracking_recorder().insert_tracking(Tracking("outdial", position))
    finally:
        factory.close()
