"""The read model of one store, and the live projection that keeps it up to date.

``ReadModel`` is what readers hold: the view, its queries, its position and lag, and the
wait that gives read-your-writes. ``LiveProjection`` applies new events as they are
recorded, every event waiting (up to a bound) in one transaction with the tracking
position of the last, so each is applied exactly once across crashes. If applying fails,
the error is logged and kept (readiness fails and the lag grows) and the projection starts
again from its last tracked position with a growing back-off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from eventsourcing.persistence import Tracking

from projections.applier import ONE_WRITE_MAX, Handover, apply_next
from projections.events import EventLog, Notified
from projections.failures import EventNotApplied, describe, unreachable
from projections.projection import ReadModelProjection
from projections.queries import ReadModelQueries
from projections.store import NotWithin, ReadModelView

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)
# Events applied in one transaction at most (but a writer applying its own write applies
# up to ONE_WRITE_MAX of them at once).
BATCH = 500
# How long the projection waits for an append before it looks again anyway.
IDLE_WAIT_S = 1.0
# The active projection's sign of life; a standby asks for the lease this often; and a
# projection silent for longer than INACTIVE_AFTER_S counts as gone.
HEARTBEAT_S = 1.0
STANDBY_RETRY_S = 1.0
# A writer waits this long for another applier to finish before applying its write in
# its own transaction (it holds the event store's lock meanwhile); after that its events
# are applied by the next applier instead.
WITHIN_WAIT_S = 0.01
INACTIVE_AFTER_S = 5.0
STATUS_NAME = "readmodel"
# A status read by the API is reused this long.
STATUS_CACHE_S = 1.0


class ReadModel:
    """The read model's view and queries, its position in the event log, and its lag."""

    def __init__(self, view: ReadModelView, events: EventLog) -> None:
        self.view = view
        self.events = events
        self.queries = ReadModelQueries(view)
        self._applied = threading.Condition()
        self._applied_here = 0  # the furthest position a projection of this process committed
        self._status: ProjectionStatus | None = None
        self._status_read_at = float("-inf")

    def position(self) -> int | None:
        """The last notification id the read model has applied."""
        return self.view.max_tracking_id(self.events.name)

    def head(self) -> int:
        """The last notification id recorded in the event store."""
        return self.events.head()

    def lag(self) -> int:
        return max(0, self.head() - (self.position() or 0))

    def close(self) -> None:
        self.view.close()

    def status_is_stale(self) -> bool:
        """``status()`` would read the store (its last reading is older than a second)."""
        return time.monotonic() - self._status_read_at >= STATUS_CACHE_S

    def status(self) -> ProjectionStatus | None:
        """The active projection's last status row, whichever process it runs in (read
        at most once a second)."""
        now = time.monotonic()
        if now - self._status_read_at >= STATUS_CACHE_S:
            row = self.view.read_status(STATUS_NAME)
            self._status = (
                None
                if row is None
                else ProjectionStatus(
                    holder=row["holder"],
                    heartbeat=float(row["heartbeat"]),
                    failed_at=row["failed_at"],
                    error=row["error"],
                )
            )
            self._status_read_at = now
        return self._status

    def oldest_waiting(self) -> float | None:
        """Seconds since the oldest event the read model has not applied was recorded."""
        waiting = self.events.read(self.position() or 0, limit=1)
        if not waiting:
            return None
        recorded_at: datetime = waiting[0][1].timestamp
        return time.time() - recorded_at.timestamp()

    @property
    def applied_here(self) -> int:
        """The furthest position a projection of this process has committed (0: none)."""
        return self._applied_here

    def has_applied(self, position: int) -> None:
        """A projection of this process has committed ``position``: wake the waiters."""
        with self._applied:
            self._applied_here = max(self._applied_here, position)
            self._applied.notify_all()

    def wait_until_applied(self, position: int | None, timeout: float = 5.0) -> bool:
        """Block until the read model has applied ``position`` (read-your-writes).

        A projection in this process wakes the wait as it commits, with no query. One in
        another process (or a rebuild) is noticed by looking at the stored position, soon
        at first and then less often. Every event moves the tracking position, so this
        never waits on an event the projection ignores. False on timeout, never a hang.
        """
        if position is None or self._applied_here >= position:
            return True
        deadline = time.monotonic() + timeout
        pause = 0.002
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._applied:
                if self._applied_here >= position:
                    return True
                self._applied.wait(min(pause, remaining))
                if self._applied_here >= position:
                    return True
            current = self.position()
            if current is not None and current >= position:
                return True
            pause = min(pause * 2, 0.05)


class Lease(Protocol):
    """The right to be the one active projection of a store (see adapters/leases.py)."""

    def try_acquire(self) -> bool: ...
    def release(self) -> None: ...


@dataclass(frozen=True)
class ProjectionStatus:
    """What every process can know of the store's projection from its status row."""

    holder: str
    heartbeat: float  # seconds since the epoch
    failed_at: int | None
    error: str | None

    def active(self, now: float) -> bool:
        return now - self.heartbeat <= INACTIVE_AFTER_S


class LiveProjection:
    """Keeps ``read_model`` up to date: a thread of its own follows the log, and a writer
    of this process may apply its own write at once (``apply_until``) rather than wait
    for that thread to wake. Either way one lock lets a single applier at a time take
    every event waiting, so writes arriving together are applied together.

    With a ``lease``, only the process holding it applies events; the others wait as hot
    standbys and take over when it goes. The active one writes a status row every second
    (its heartbeat, and the event it failed on), which every process of the store reads.
    """

    def __init__(
        self, read_model: ReadModel, *, batch: int = BATCH, lease: Lease | None = None
    ) -> None:
        self.read_model = read_model
        self.batch = batch
        self.lease = lease
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.active = False
        self.last_error: str | None = None
        self._failed_at: int | None = None  # position when the last error happened
        self._applying = threading.Lock()
        self._position: int | None = None  # the view's position as this process left it
        self._projection = ReadModelProjection(read_model.view)
        self.handover = Handover()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat_at = 0.0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._supervise, name="projection", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.read_model.events.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.lease is not None:
            self.lease.release()
        self.active = False

    @property
    def stuck(self) -> bool:
        """The last batch failed and none has gone through since (no query: cheap)."""
        return self._failed_at is not None

    def apply_until(self, position: int, timeout: float = 1.0) -> None:
        """Apply what is waiting, so that ``position`` is in the read model when this
        returns, unless this process is not the active projection, another applier holds
        the lock past ``timeout``, or applying fails (then the projection's own thread
        carries on, and the caller's wait decides)."""
        if (self._position or 0) >= position:
            return  # applied (by the write's own transaction, or with another's)
        if not self.active or not self._applying.acquire(timeout=timeout):
            return
        try:
            while (self._position or 0) < position and self._apply_next_batch(position):
                pass
        except Exception as error:
            self._failed(error)
        finally:
            self._applying.release()

    def apply_within(self, cursor: Any, recorded: Sequence[Notified]) -> Callable[[bool], None]:
        """Apply a write's events in the writer's own transaction (``cursor``, before it
        commits), when they are next in line and no other applier is at work: a write
        then commits once, its read model with it. Refused (NotWithin) otherwise, and
        whatever this wrote must then be rolled back with the caller's savepoint.

        Answers what the writer calls once its transaction has ended (True: committed);
        until then this projection applies nothing else."""
        first, last = recorded[0][0], recorded[-1][0]
        if len(recorded) > ONE_WRITE_MAX:
            raise NotWithin("more events than one transaction applies")
        if not self.active or not self._applying.acquire(timeout=WITHIN_WAIT_S):
            raise NotWithin("another applier is at work")
        try:
            if self._position is None:
                self._position = self.read_model.position() or 0
            # Next in line surely, gaps or not: see apply_next.
            if self._position != first - 1:
                raise NotWithin("not next in line")
            self._projection.process_within(
                cursor,
                [e for _, e in recorded],
                Tracking(self.read_model.events.name, last),
                after=self._position,
            )
        except BaseException:
            self._applying.release()
            raise

        def ended(committed: bool) -> None:
            if committed:
                self._position = last
                self.read_model.has_applied(last)
            else:
                self._position = None  # read it again
            self._applying.release()

        return ended

    def hand_over(self, recorded: Sequence[Notified]) -> None:
        """Events this process has just recorded: applied as they are when next in line,
        rather than read back from the store (only while this projection is active)."""
        if self.active:
            self.handover.put(recorded)

    def _supervise(self) -> None:
        failures = 0
        events = self.read_model.events
        while not self._stopping.is_set():
            try:
                if not self._hold_lease():
                    self._stopping.wait(STANDBY_RETRY_S)
                    continue
                with self._applying:
                    # A write of many events that comes next is applied whole and alone,
                    # as the writer waiting for it would (its rows then written once).
                    until = self.handover.write_after(self._position or 0)
                    applied = self._apply_next_batch(until, exactly=True)
                failures = 0
                if not applied:
                    events.wait_for_append(min(IDLE_WAIT_S, HEARTBEAT_S))
            except Exception as error:
                self._failed(error)
                delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
                failures += 1
                self._stopping.wait(delay)

    def _hold_lease(self) -> bool:
        """Become (or stay) the active projection; writes the heartbeat once a second."""
        now = time.time()
        if self.active and now - self._beat_at < HEARTBEAT_S:
            return True
        holding = self.lease is None or self.lease.try_acquire()
        if holding and not self.active:
            log.info("projection %s is active", self.holder)
            self._position = None  # whoever was active before moved it on
        elif not holding and self.active:
            log.warning("projection %s lost its lease: standing by", self.holder)
        elif not holding and not self._beat_at:
            log.info("projection %s stands by: another process is active", self.holder)
            self._beat_at = now
        self.active = holding
        if holding:
            self._beat(now)
        return holding

    def _beat(self, now: float) -> None:
        self._beat_at = now
        self.read_model.view.write_status(
            {
                "name": STATUS_NAME,
                "holder": self.holder,
                "heartbeat": now,
                "failed_at": self._failed_at,
                "error": self.last_error if self._failed_at is not None else None,
            }
        )

    def _apply_next_batch(self, until: int = 0, *, exactly: bool = False) -> bool:
        """Apply the next batch of waiting events in one transaction, or every one up to
        position ``until`` (at most ONE_WRITE_MAX), and no further when ``exactly``; False
        when none waits. Called with the lock held.

        When the batch fails on an event (not on an unreachable store), the events are
        applied again one a transaction up to that event, so that the read model holds
        everything before it and EventNotApplied names it.
        """
        ahead = min(until - (self._position or 0), ONE_WRITE_MAX)
        try:
            return self._apply(ahead if exactly and ahead > 0 else max(self.batch, ahead))
        except Exception as error:
            self._position = None  # rolled back
            if unreachable(error):
                raise
            said = f"{type(error).__name__}: {error}".splitlines()[0]
            if self._failed_at is None:
                # While it is stuck, the error that stopped it stays the one reported:
                # this retry either moves past it or names the event again.
                self.last_error = said
            log.warning("a batch failed (%s); applying it an event at a time", said)
        for _ in range(self.batch):
            after = self._position = self.read_model.position() or 0
            try:
                if not self._apply(1):
                    return False
            except Exception as error:
                self._position = None
                if unreachable(error):
                    raise
                raise self._not_applied(after, error) from error
        return True

    def _apply(self, limit: int) -> bool:
        model = self.read_model
        if self._position is None:
            self._position = model.position() or 0
        applied = apply_next(
            self._projection, model.events, self._position, limit=limit, handover=self.handover
        )
        if applied is None:
            return False
        self._position = applied.position
        if self._failed_at is not None and applied.position > self._failed_at:
            self._failed_at = None  # moved past the failure
        model.has_applied(applied.position)
        return True

    def _not_applied(self, after: int, error: Exception) -> EventNotApplied:
        """Name the event after ``after``, decoded if it decodes, else as stored."""
        events = self.read_model.events
        try:
            position, event = events.read(after, limit=1)[0]
            aggregate_id, kind = describe(event)
        except Exception:
            stored = events.describe(after)
            position, aggregate_id, kind = stored if stored else (after + 1, "?", "?")
        return EventNotApplied(position, aggregate_id, kind, error)

    def _failed(self, error: Exception) -> None:
        # The view may have moved (a rebuild) or the transaction rolled back: read the
        # position again before the next batch.
        self._position = None
        # Where it failed first, then why: a reader that sees the error sees it failing.
        with contextlib.suppress(Exception):  # the store itself may be what failed
            self._failed_at = self.read_model.position() or 0
        if self._failed_at is None:
            self._failed_at = 0
        if isinstance(error, EventNotApplied):
            self.last_error = str(error)
            log.error("read-model projection halted: %s", error)
        else:
            self.last_error = f"{type(error).__name__}: {error}".splitlines()[0]
            log.warning("read-model projection failed (%s); trying again", self.last_error)
        with contextlib.suppress(Exception):  # the store itself may be what failed
            self._beat(time.time())


def why_not_following(
    read_model: ReadModel, local: LiveProjection | None, *, started_at: float
) -> tuple[str, str] | None:
    """Why the read model cannot follow the events now, as (reason, message), or None.

    It cannot while no projection of the store has been active for more than
    INACTIVE_AFTER_S, or while the active one is stuck on an event it cannot apply.
    ``started_at`` (monotonic) gives a process that just started the same grace.
    """
    if local is not None and local.active:
        if local.stuck:
            return "PROJECTION_FAILING", f"the read model is stuck: {local.last_error}"
        return None
    status = read_model.status()
    if status is None or not status.active(time.time()):
        if time.monotonic() - started_at < INACTIVE_AFTER_S:
            return None
        return (
            "PROJECTION_INACTIVE",
            f"no projection worker has been active for more than {INACTIVE_AFTER_S:.0f} s "
            "(start `outdial project`, or `serve` with OUTDIAL_RUN_PROJECTIONS=true)",
        )
    if status.failed_at is not None and (read_model.position() or 0) <= status.failed_at:
        return "PROJECTION_FAILING", f"the read model is stuck: {status.error}"
    return None
