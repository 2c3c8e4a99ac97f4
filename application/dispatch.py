"""Dispatch: claim available targets and start one dial on each, under contention.

The read model proposes candidates; it may lag, and other dispatchers read the same
oldest candidates at the same moment, so the aggregate decides. A dispatcher skips a
target another dispatcher of this process is starting right now, moves past any it loses
(a conflict, or no longer idle) to the next candidates, and looks again a few times when
contention left its answer short. Only when contention left it nothing although there
were candidates is it a conflict the caller should retry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from application.errors import ConcurrentChange, TargetNotFound
from application.written import Written, latest
from domain.errors import TargetNotDialable
from domain.plan import Plan
from domain.target import Dial

# Ask for a few candidates per wanted dial, and look again when contention left the
# answer short.
CANDIDATES_PER_DIAL = 4
DISPATCH_ROUNDS = 3


class Candidates(Protocol):
    """Where dispatch finds targets that look dialable now (the read model)."""

    def available_target_ids(
        self, customer_id: UUID, outdial_id: UUID, *, plan: Plan, now: datetime, limit: int
    ) -> list[UUID]: ...


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
        start: Callable[[UUID], Written[Dial]],
    ) -> Written[Dispatched]:
        """Start up to ``limit`` dials on targets ``find(n)`` proposes, ``start`` deciding."""
        started: Dispatched = []
        position: int | None = None
        recorded: list[tuple[int, Any]] = []
        tried: set[UUID] = set()
        for _ in range(DISPATCH_ROUNDS):
            candidates = [
                t for t in find((limit - len(started)) * CANDIDATES_PER_DIAL) if t not in tried
            ]
            tried.update(candidates)
            for target_id in candidates:
                if len(started) >= limit:
                    break
                with self._claims.claim(target_id) as claimed:
                    if not claimed:
                        continue
                    try:
                        written = start(target_id)
                    except (ConcurrentChange, TargetNotDialable, TargetNotFound):
                        continue
                started.append((target_id, written.value))
                position = latest(position, written.position)
                recorded += written.recorded
            if not candidates or len(started) == limit:
                break
        if tried and not started:
            raise ConcurrentChange("other dispatchers took every available target; retry")
        return Written(started, position, tuple(sorted(recorded, key=lambda r: r[0])))


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
    def claim(self, target_id: UUID) -> Iterator[bool]:
        with self._lock:
            claimed = target_id not in self._taking
            self._taking.add(target_id)
        try:
            yield claimed
        finally:
            if claimed:
                with self._lock:
                    self._taking.discard(target_id)
