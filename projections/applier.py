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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from eventsourcing.persistence import Tracking

from projections.events import EventLog, Notified
from projections.projection import ReadModelProjection

# Events handed over and not yet applied are kept up to this many (the oldest go first):
# a process whose projection stands by must not keep every event it writes.
HANDOVER_MAX = 20_000


@dataclass(frozen=True)
class Applied:
    position: int  # the notification id of the last event applied
    count: int


class Handover:
    """Events this process recorded, by notification id, until the read model has them."""

    def __init__(self, limit: int = HANDOVER_MAX) -> None:
        self._events: dict[int, object] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def put(self, recorded: Iterable[Notified]) -> None:
        with self._lock:
            self._events.update(recorded)
            while len(self._events) > self._limit:
                del self._events[next(iter(self._events))]

    def next_in_line(self, after: int, limit: int) -> list[Notified]:
        """Those handed over that follow ``after`` without a gap, at most ``limit``; and
        forget every one up to ``after`` (applied already)."""
        with self._lock:
            for position in [p for p in self._events if p <= after]:
                del self._events[position]
            found: list[Notified] = []
            position = after + 1
            while len(found) < limit and position in self._events:
                found.append((position, self._events[position]))
                position += 1
            return found


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
