"""The one way events reach the read model: the events after its position, applied in one
transaction with the tracking position of the last, so each is applied exactly once across
crashes and across processes. The live projection, catching up (rebuild's tail, the
import's own projection) and a writer applying its own write all call ``apply_next``;
what differs between them is only when they call it and how many events at a time.

Events this process has just recorded are handed over (``Handover``) so that applying
them does not read them back from the store and decode them again; whatever is not in
the hand-over, or not next in line, is read from the log.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice

from eventsourcing.persistence import Tracking

from projections.events import EventLog, Notified
from projections.projection import ReadModelProjection

# A writer applying its own write applies up to this many of its events in one
# transaction (projections/runner.py), so that what one write did at once is applied at
# once: a deleted outdial's erasure of 100,000 targets then writes each row once, not
# twice (projections/erasures.py).
ONE_WRITE_MAX = 120_000
# Events handed over and not yet applied are kept up to this many (the oldest go first):
# a process whose projection stands by must not keep every event it writes; one write's
# are kept whole (reading 100,000 back took 2.3 s), as its applying holds them anyway.
HANDOVER_MAX = ONE_WRITE_MAX


@dataclass(frozen=True)
class Applied:
    position: int  # the notification id of the last event applied
    count: int


class Handover:
    """Events this process recorded, by notification id, until the read model has them."""

    def __init__(self, limit: int = HANDOVER_MAX) -> None:
        self._events: dict[int, object] = {}
        self._writes: dict[int, int] = {}  # a write of many events: its first id, its last
        self._limit = limit
        self._lock = threading.Lock()

    def put(self, recorded: Sequence[Notified]) -> None:
        """The events of one write."""
        with self._lock:
            self._events.update(recorded)
            if len(recorded) > 1:
                self._writes[recorded[0][0]] = recorded[-1][0]
            excess = len(self._events) - self._limit
            if excess > 0:
                # Kept anew rather than deleted from the front one by one: each deletion
                # leaves a hole the next first-key lookup walks past (quadratic: 4.7 s of
                # a 100,000-event write under py-spy).
                self._events = dict(islice(self._events.items(), excess, None))
                self._writes = {f: e for f, e in self._writes.items() if f in self._events}

    def next_in_line(self, after: int, limit: int) -> list[Notified]:
        """Those handed over that follow ``after`` without a gap, at most ``limit``; and
        forget every one up to ``after`` (applied already)."""
        with self._lock:
            for position in [p for p in self._events if p <= after]:
                del self._events[position]
            for first in [f for f, last in self._writes.items() if last <= after]:
                del self._writes[first]  # applied whole: a write partly applied stays
            found: list[Notified] = []
            position = after + 1
            while len(found) < limit and position in self._events:
                found.append((position, self._events[position]))
                position += 1
            return found

    def write_after(self, after: int) -> int:
        """The id of the last event of the write of many events that the event after
        ``after`` belongs to; ``after`` when none."""
        with self._lock:
            for first, last in self._writes.items():
                if first <= after + 1 <= last:
                    return last
            return after


def apply_next(
    projection: ReadModelProjection,
    log: EventLog,
    after: int,
    *,
    limit: int,
    handover: Handover | None = None,
) -> Applied | None:
    """Apply up to ``limit`` events that come next after position ``after``, in one
    transaction tracked at the last; None when none waits.

    Notification ids only grow, so the id right after ``after`` is surely next, gaps in
    the log or not, and so is each id one more than the last: handed-over events that
    follow without a gap are applied as they are. Past a gap another writer's events may
    lie between, so the log is read. The transaction names ``after``: when another
    applier moved the read model meanwhile it is refused whole (IntegrityError), and the
    caller reads the position again.
    """
    page: Sequence[Notified] = handover.next_in_line(after, limit) if handover else []
    if not page:
        page = log.read(after, limit=limit)
    if not page:
        return None
    last = page[-1][0]
    projection.process_events([event for _, event in page], Tracking(log.name, last), after=after)
    return Applied(last, len(page))
