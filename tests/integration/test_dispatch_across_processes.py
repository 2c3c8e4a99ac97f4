"""Dispatchers of different processes (each with its own claims) on one store never start
two dials on one target, and between them claim every target."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from uuid import UUID, uuid4

from adapters.stores import Storage
from application.errors import ConcurrentChange
from application.service import OutdialService
from domain.plan import Plan
from tests.conftest import FakeClock, new_target

TARGETS = 120


class Oldest:
    """Proposes the oldest targets not yet seen dispatched, as the read model does: every
    dispatcher sees the same candidates, and a claim shows only once it is answered."""

    def __init__(self, target_ids: list[UUID]) -> None:
        self.target_ids = target_ids
        self.dispatched: set[UUID] = set()

    def available_target_ids(
        self, customer_id: UUID, outdial_id: UUID, *, plan: Plan, now: datetime, limit: int
    ) -> list[UUID]:
        return [t for t in self.target_ids if t not in self.dispatched][:limit]

    def dials_with_ids(
        self, customer_id: UUID, outdial_id: UUID, dial_ids: list[UUID]
    ) -> list[tuple[UUID, UUID]]:
        return []


def test_dispatchers_of_two_processes_never_share_a_target(
    storage: Storage, clock: FakeClock
) -> None:
    customer = uuid4()
    first = OutdialService(storage.event_store_env(), clock=clock)
    second = OutdialService(storage.event_store_env(), clock=clock)  # another process's service
    try:
        outdial = first.create_outdial(customer).value.id
        news = [new_target("+821100000001")] * TARGETS
        target_ids = [t.id for t in first.create_targets(customer, outdial, news).value]
        candidates = Oldest(target_ids)
        claimed: list[UUID] = []
        lock = threading.Lock()

        def dispatch(service: OutdialService) -> None:
            for _ in range(40):
                try:
                    written = service.dispatch(customer, outdial, limit=10, candidates=candidates)
                except ConcurrentChange:
                    continue
                with lock:
                    claimed.extend(target_id for target_id, _ in written.value)
                    candidates.dispatched.update(target_id for target_id, _ in written.value)

        threads = [
            threading.Thread(target=dispatch, args=(service,))
            for service in (first, second, first, second)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        twice = [t for t, n in Counter(claimed).items() if n > 1]
        assert twice == []
        assert set(claimed) == set(target_ids)
        for target_id in target_ids:  # the store agrees: one dial on each
            assert len(first.get_target(customer, outdial, target_id).dials) == 1
    finally:
        first.close()
        second.close()
