"""Dispatch: claim available targets and start one dial on each, under contention.

The read model proposes candidates; it may lag, and other dispatchers read the same
oldest candidates at the same moment, so the aggregate decides. A dispatcher takes its
candidates in random order from a window of the oldest, skips a target another
dispatcher of this process is starting right now, and starts dials on all it took in
one atomic write: one commit for the whole answer. When another process won one of them
(a conflict), it looks at the targets again, drops the ones no longer dialable and writes
the rest. It looks again a few times when contention left its answer short; only when
contention left it nothing although there were candidates is it a conflict the caller
should retry.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from application.errors import ConcurrentChange
from application.written import Written, latest
from domain.plan import Plan
from domain.target import Dial

# Ask for a few candidates per wanted dial, and look again when contention left the
# answer short; after a conflict, look at the taken targets again this many times.
CANDIDATES_PER_DIAL = 4
DISPATCH_ROUNDS = 3
CONFLICT_RETRIES = 3


class Candidates(Protocol):
    """Where dispatch finds targets that look dialable now (the read model)."""

    def available_target_ids(
        self, customer_id: UUID, outdial_id: UUID, *, plan: Plan, now: datetime, limit: int
    ) -> list[UUID]: ...

    def dials_with_ids(
        self, customer_id: UUID, outdial_id: UUID, dial_ids: list[UUID]
    ) -> list[tuple[UUID, UUID]]:
        """(target id, dial id) of the dials among ``dial_ids`` that exist."""
        ...


# (target id, the dial started on it)
Dispatched = list[tuple[UUID, Dial]]


class Dispatcher:
    """Runs dispatch rounds; one per process, so its claims span all its requests."""

    def __init__(self) -> None:
        self._claims = Claims()

    def run(
        self,
        *,
        limit: int,
        find: Callable[[int], list[UUID]],
        start: Callable[[list[UUID], int], Written[Dispatched]],
    ) -> Written[Dispatched]:
        """Start up to ``limit`` dials on targets ``find(n)`` proposes.

        ``start(ids, already)`` starts a dial on each of ``ids`` that may be dialed now,
        skipping the rest, and records them all in one write (ConcurrentChange when another
        won one); ``already`` dials of this dispatch were started before it.
        """
        started: Dispatched = []
        position: int | None = None
        tried: set[UUID] = set()
        for _ in range(DISPATCH_ROUNDS):
            candidates = [
                t for t in find((limit - len(started)) * CANDIDATES_PER_DIAL) if t not in tried
            ]
            tried.update(candidates)
            found = bool(candidates)
            # Random order, so that dispatchers of other processes reading the same window
            # seldom pick the same targets.
            random.shuffle(candidates)
            while candidates and len(started) < limit:
                wanted = limit - len(started)
                with self._claims.claim(candidates, wanted) as taking:
                    del candidates[: taking.looked_at]
                    if not taking.ids:
                        continue
                    written = _start_despite_conflicts(start, taking.ids, len(started))
                started += written.value
                position = latest(position, written.position)
            if not found or len(started) == limit:
                break
        if tried and not started:
            raise ConcurrentChange("other dispatchers took every available target; retry")
        return Written(started, position)


def _start_despite_conflicts(
    start: Callable[[list[UUID], int], Written[Dispatched]], ids: list[UUID], already: int
) -> Written[Dispatched]:
    """``start(ids)``; after a conflict, again, ``start`` looking at each target afresh
    and so dropping the ones another dispatcher took."""
    for _ in range(CONFLICT_RETRIES):
        try:
            return start(ids, already)
        except ConcurrentChange:
            continue
    # Still colliding: one at a time, so that each conflict costs only its own target.
    started: Dispatched = []
    position: int | None = None
    for target_id in ids:
        try:
            written = start([target_id], already + len(started))
        except ConcurrentChange:
            continue
        started += written.value
        position = latest(position, written.position)
    return Written(started, position)


@dataclass
class Taking:
    """What one claim took: the target ids, and how many candidates it looked at."""

    ids: list[UUID]
    looked_at: int


class Claims:
    """Targets this process's dispatchers are starting dials on right now.

    Concurrent dispatchers read the same oldest candidates; a dispatcher skips a target
    another is taking instead of colliding on it and retrying. Once the dial is started
    the target is no longer idle, so the aggregate turns later dispatchers away itself.
    """

    def __init__(self) -> None:
        self._taking: set[UUID] = set()
        self._lock = threading.Lock()

    @contextmanager
    def claim(self, candidates: list[UUID], wanted: int) -> Iterator[Taking]:
        """Take up to ``wanted`` of ``candidates``, in order, that no one here is taking."""
        ids: list[UUID] = []
        looked_at = 0
        with self._lock:
            for target_id in candidates:
                if len(ids) == wanted:
                    break
                looked_at += 1
                if target_id not in self._taking:
                    self._taking.add(target_id)
                    ids.append(target_id)
        try:
            yield Taking(ids, looked_at)
        finally:
            with self._lock:
                self._taking.difference_update(ids)
