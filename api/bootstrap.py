"""The composition root: every process (HTTP, console script, workers) builds the
application, the read model and the keys of its store here, from its settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from api.settings import Settings
from application.access import ApiKeys
from application.eventlog import StoredEventLog
from application.idempotency import IdempotencyKeys
from application.leases import ProjectionLease, creating_schema
from application.service import Clock, OutdialService, utc_now
from application.storage import (
    Storage,
    apply_statement_timeout,
    check_reachable,
    postgres_env,
)
from projections.runner import ReadModel
from projections.views import VIEW_NAME, open_view

READ_MODEL_DBNAME = "readmodel.sqlite3"


def read_model_env(storage: Storage, into: str | None = None) -> dict[str, str]:
    """The environment for the application's event store and, prefixed READMODEL_, for
    the read-model view: beside the events, or ``into`` a SQLite path or PostgreSQL URL."""
    env = storage.event_store_env()
    if storage.kind == "memory":
        msg = "the read model needs the embedded store (a data directory) or PostgreSQL"
        raise ValueError(msg)
    prefix = VIEW_NAME.upper()
    target = into if into is not None else _view_location(storage)
    if target.startswith(("postgres://", "postgresql://")):
        env[f"{prefix}_PERSISTENCE_MODULE"] = "eventsourcing.postgres"
        env.update({f"{prefix}_{k}": v for k, v in postgres_env(target).items()})
        for name in ("POSTGRES_POOL_SIZE", "POSTGRES_MAX_OVERFLOW", "POSTGRES_CONNECT_TIMEOUT"):
            if name in env:
                env[f"{prefix}_{name}"] = env[name]
    else:
        env[f"{prefix}_PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env[f"{prefix}_SQLITE_DBNAME"] = target
        env[f"{prefix}_SQLITE_LOCK_TIMEOUT"] = env.get("SQLITE_LOCK_TIMEOUT", "30")
    return env


def _view_location(storage: Storage) -> str:
    if storage.database_url:
        return storage.database_url
    assert storage.data_dir is not None
    return str(storage.data_dir / READ_MODEL_DBNAME)


def open_service(settings: Settings, *, clock: Clock = utc_now) -> OutdialService:
    storage = settings.storage()
    check_reachable(storage)
    apply_statement_timeout(storage)
    with creating_schema(storage, connect_timeout=settings.connect_timeout_seconds):
        return OutdialService(storage=storage, clock=clock)


def open_keys(settings: Settings) -> ApiKeys:
    storage = settings.storage()
    check_reachable(storage)
    with creating_schema(storage, connect_timeout=settings.connect_timeout_seconds):
        return ApiKeys.open(storage)


def open_idempotency(settings: Settings) -> IdempotencyKeys:
    storage = settings.storage()
    with creating_schema(storage, connect_timeout=settings.connect_timeout_seconds):
        return IdempotencyKeys.open(storage)


def open_read_model(
    storage: Storage, events: StoredEventLog, *, into: str | None = None
) -> ReadModel:
    """The read model of ``storage`` (or the one ``into`` names), reading ``events``."""
    with creating_schema(storage, connect_timeout=storage.connect_timeout):
        return ReadModel(open_view(read_model_env(storage, into)), events)


def projection_lease(settings: Settings) -> ProjectionLease:
    """The lease that makes one projection worker of the store the active one."""
    return ProjectionLease(settings.storage(), connect_timeout=settings.connect_timeout_seconds)


@contextmanager
def event_log(settings: Settings) -> Iterator[StoredEventLog]:
    """The store's event log, for commands that read events and nothing else."""
    service = open_service(settings)
    events = StoredEventLog(service)
    try:
        yield events
    finally:
        events.close()
        service.close()


@dataclass
class Services:
    """One store's application, event log, read model and keys, opened together."""

    settings: Settings
    service: OutdialService
    events: StoredEventLog
    read_model: ReadModel
    keys: ApiKeys
    idempotency: IdempotencyKeys

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock = utc_now) -> Services:
        service = open_service(settings, clock=clock)
        events = StoredEventLog(service)
        return cls(
            settings=settings,
            service=service,
            events=events,
            read_model=open_read_model(settings.storage(), events),
            keys=open_keys(settings),
            idempotency=open_idempotency(settings),
        )

    def close(self) -> None:
        self.read_model.close()
        self.events.close()
        self.service.close()
        self.keys.close()
        self.idempotency.close()
