"""Running the read-model projection on the embedded store or PostgreSQL.

``ReadModel`` owns the view the queries read and a supervised ``ProjectionRunner``:
if processing fails, the error is logged and kept (readiness fails and the lag grows),
and the runner starts again from its last tracked position.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.projection import ProjectionRunner
from eventsourcing.utils import Environment

from application.service import OutdialService
from application.storage import Storage
from projections.projection import ReadModelProjection
from projections.queries import ReadModelQueries
from projections.readmodel import PostgresReadModelView, ReadModelView, SQLiteReadModelView

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)


def read_model_env(storage: Storage, into: str | None = None) -> dict[str, str]:
    """The environment for the application and, prefixed READMODEL_, for the view.

    ``into`` puts the view somewhere else: a SQLite path or a PostgreSQL URL.
    """
    env = storage.event_store_env()
    if storage.kind == "memory":
        msg = "the read model needs the embedded store (a data directory) or PostgreSQL"
        raise ValueError(msg)
    prefix = ReadModelProjection.name.upper()
    target = into if into is not None else _default_view_location(storage)
    if target.startswith(("postgres://", "postgresql://")):
        env[f"{prefix}_PERSISTENCE_MODULE"] = "eventsourcing.postgres"
        env.update(
            {
                f"{prefix}_{k}": v
                for k, v in Storage(database_url=target).event_store_env().items()
                if k.startswith("POSTGRES_")
            }
        )
    else:
        env[f"{prefix}_PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env[f"{prefix}_SQLITE_DBNAME"] = target
        env[f"{prefix}_SQLITE_LOCK_TIMEOUT"] = env.get("SQLITE_LOCK_TIMEOUT", "30")
    return env


def _default_view_location(storage: Storage) -> str:
    if storage.database_url:
        return storage.database_url
    assert storage.data_dir is not None
    return str(storage.data_dir / "readmodel.sqlite3")


def view_class_for(env: Mapping[str, str]) -> type[ReadModelView]:
    module = Environment(ReadModelProjection.name, dict(env)).get("PERSISTENCE_MODULE")
    return PostgresReadModelView if module == "eventsourcing.postgres" else SQLiteReadModelView


def open_view(env: Mapping[str, str]) -> ReadModelView:
    """A view on the read-model store (creating its tables when missing)."""
    factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(
        Environment(ReadModelProjection.name, dict(env))
    )
    view: ReadModelView = factory.tracking_recorder(view_class_for(env))  # type: ignore[arg-type]
    return view


class ReadModel:
    """The read model of one store: queries, position, lag, and the projection runner."""

    def __init__(self, storage: Storage, *, into: str | None = None) -> None:
        self.env = read_model_env(storage, into)
        self.view = open_view(self.env)
        self.queries = ReadModelQueries(self.view)
        self.last_error: str | None = None
        self.restarts = 0
        self._failed_at: int | None = None  # position when the last error happened
        self._events = OutdialService(self.env)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- running ----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._supervise, name="readmodel", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._events.close()

    def run_forever(self) -> None:
        """For the ``outdial project`` worker: run until interrupted."""
        self.start()
        try:
            while not self._stopping.wait(1.0):
                pass
        finally:
            self.stop()

    def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                with ProjectionRunner(
                    application_class=OutdialService,
                    projection_class=ReadModelProjection,
                    view_class=view_class_for(self.env),  # type: ignore[type-abstract]
                    env=self.env,
                ) as runner:
                    while not self._stopping.is_set():
                        runner.run_forever(timeout=0.2)
                        failures = 0
            except Exception as error:  # the runner re-raises its thread's error here
                self.last_error = f"{type(error).__name__}: {error}"
                self._failed_at = self.position() or 0
                self.restarts += 1
                log.exception("read-model projection failed; restarting from its last position")
                delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
                failures += 1
                self._stopping.wait(delay)

    # -- watching ---------------------------------------------------------------

    def position(self) -> int | None:
        """The last notification id the read model has applied."""
        return self.view.max_tracking_id(OutdialService.name)

    def head(self) -> int:
        """The last notification id recorded in the event store."""
        return self._events.recorder.max_notification_id() or 0

    def lag(self) -> int:
        return max(0, self.head() - (self.position() or 0))

    def failing(self) -> bool:
        """The projection failed and has not moved past that point since."""
        if self._failed_at is None:
            return False
        return (self.position() or 0) <= self._failed_at and self.lag() > 0

    def wait(self, position: int | None, timeout: float = 5.0) -> bool:
        """Block until the read model has applied ``position`` (read-your-writes).

        Every event moves the tracking position, so this never waits on an event the
        projection ignores. Returns False on timeout instead of hanging.
        """
        if position is None:
            return True
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            current = self.position()
            if current is not None and current >= position:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
