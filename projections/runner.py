"""The read model of one store, and the live projection that keeps it up to date.

``ReadModel`` is what readers hold: the view, its queries, its position and lag, and the
wait that gives read-your-writes. ``LiveProjection`` applies new events as they are
recorded, every event waiting (up to a bound) in one transaction with the tracking
position of the last, so each is applied exactly once across crashes. If applying fails,
the error is logged and kept (readiness fails and the lag grows) and the projection starts
again from its last tracked position with a growing back-off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from eventsourcing.persistence import Tracking

from projections.events import EventLog
from projections.projection import ReadModelProjection
from projections.queries import ReadModelQueries
from projections.views import ReadModelView

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)
# Events applied in one transaction at most.
BATCH = 500
# How long the projection waits for an append before it looks again anyway.
IDLE_WAIT_S = 0.2


class ReadModel:
    """The read model's view and queries, its position in the event log, and its lag."""

    def __init__(self, view: ReadModelView, events: EventLog) -> None:
        self.view = view
        self.events = events
        self.queries = ReadModelQueries(view)
        self._applied = threading.Condition()

    def position(self) -> int | None:
        """The last notification id the read model has applied."""
        return self.view.max_tracking_id(self.events.name)

    def head(self) -> int:
        """The last notification id recorded in the event store."""
        return self.events.head()

    def lag(self) -> int:
        return max(0, self.head() - (self.position() or 0))

    def close(self) -> None:
        self.view.datastore.close()  # type: ignore[attr-defined]  # both stores' views have one

    def has_applied(self) -> None:
        """Wake the waiters: a projection of this process has just committed."""
        with self._applied:
            self._applied.notify_all()

    def wait_until_applied(self, position: int | None, timeout: float = 5.0) -> bool:
        """Block until the read model has applied ``position`` (read-your-writes).

        A projection in this process wakes the wait as it commits; one in another process
        is noticed by looking again, soon at first and then less often. Every event moves
        the tracking position, so this never waits on an event the projection ignores.
        Returns False on timeout instead of hanging.
        """
        if position is None:
            return True
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            current = self.position()
            if current is not None and current >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._applied:
                self._applied.wait(min(pause, remaining))
            pause = min(pause * 2, 0.05)


class LiveProjection:
    """Keeps ``read_model`` up to date in a thread of its own until stopped."""

    def __init__(self, read_model: ReadModel, *, batch: int = BATCH) -> None:
        self.read_model = read_model
        self.batch = batch
        self.last_error: str | None = None
        self.restarts = 0
        self._failed_at: int | None = None  # position when the last error happened
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._supervise, name="projection", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def failing(self) -> bool:
        """The projection failed and has not moved past that point since."""
        if self._failed_at is None:
            return False
        model = self.read_model
        return (model.position() or 0) <= self._failed_at and model.lag() > 0

    def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                for _ in self._follow():
                    failures = 0
            except Exception as error:
                self.last_error = f"{type(error).__name__}: {error}"
                self._failed_at = self.read_model.position() or 0
                self.restarts += 1
                log.exception("read-model projection failed; restarting from its last position")
                delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
                failures += 1
                self._stopping.wait(delay)

    def _follow(self) -> Iterator[int]:
        """Apply batches until stopped; yields after each commit."""
        model = self.read_model
        events = model.events
        projection = ReadModelProjection(model.view)
        position = model.position() or 0
        while not self._stopping.is_set():
            page = events.read(position, limit=self.batch)
            if not page:
                events.wait_for_append(IDLE_WAIT_S)
                continue
            last = page[-1][0]
            projection.process_events(
                [event for _, event in page], Tracking(events.name, last), after=position
            )
            position = last
            model.has_applied()
            yield last
