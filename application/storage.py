"""Where the events live: the embedded SQLite store, PostgreSQL, or memory for tests.

Every entrypoint finds the store the same way (SPEC §7): an explicit database URL,
else a data directory holding SQLite files.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Event, Lock, Thread
from typing import Any
from urllib.parse import unquote, urlparse

from eventsourcing.persistence import (
    ApplicationRecorder,
    ListenNotifySubscription,
    StoredEvent,
    Subscription,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder

# Seconds a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30
# How often the embedded store looks for events written by this or another process.
SQLITE_POLL_INTERVAL_S = 0.05


# Subscriptions of this process, woken at once when this process records events, so
# in-process projections (and read-your-writes waits) need not wait for the next poll.
_LISTENERS: set[Event] = set()
_LISTENERS_LOCK = Lock()


def _wake_listeners() -> None:
    with _LISTENERS_LOCK:
        for listener in _LISTENERS:
            listener.set()


class PollingSubscription(ListenNotifySubscription[SQLiteApplicationRecorder]):
    """SQLite has no LISTEN/NOTIFY: wake the library's pull loop on a short timer.

    Polling also sees events that other processes (an import, say) wrote to the file;
    writes of this process wake it at once.
    """

    def __init__(
        self, recorder: SQLiteApplicationRecorder, gt: int | None = None, topics: Sequence[str] = ()
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        with _LISTENERS_LOCK:
            _LISTENERS.add(self._has_been_notified)
        self._poll_thread = Thread(target=self._poll, name="sqlite-poll", daemon=True)
        self._poll_thread.start()

    def _poll(self) -> None:
        # stop() is noticed within one interval.
        while not self._has_been_stopped:
            self._has_been_notified.set()
            time.sleep(SQLITE_POLL_INTERVAL_S)

    def stop(self) -> None:
        with _LISTENERS_LOCK:
            _LISTENERS.discard(self._has_been_notified)
        super().stop()

    def __exit__(self, *args: object, **kwargs: object) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._poll_thread.join(timeout=1)


class PollingSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder plus a subscription, so projection runners work on it."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super().insert_events(stored_events, **kwargs)
        _wake_listeners()  # committed: subscriptions of this process may pull it now
        return notification_ids

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return PollingSubscription(recorder=self, gt=gt, topics=topics)


POLLING_RECORDER_TOPIC = f"{__name__}:{PollingSQLiteApplicationRecorder.__qualname__}"


@dataclass(frozen=True)
class Storage:
    """One of: ``database_url`` (PostgreSQL), ``data_dir`` (SQLite files), or memory."""

    data_dir: Path | None = None
    database_url: str | None = None

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
                **postgres_env(self.database_url),
            }
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / "events.sqlite3"),
                "SQLITE_LOCK_TIMEOUT": str(SQLITE_BUSY_TIMEOUT_S),
                "APPLICATION_RECORDER_TOPIC": POLLING_RECORDER_TOPIC,
            }
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}


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
