"""The outdial application: one method per use case, each a few lines.

Every command loads aggregates scoped by customer, lets the domain decide, and
saves the new events in one atomic write. A lost optimistic-concurrency race
surfaces as ``ConcurrentChange`` so callers can retry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder

from application.errors import ConcurrentChange, OutdialNotFound, TargetNotFound
from application.storage import Storage
from application.transcoding import register_domain_transcodings
from domain.address import Address
from domain.errors import InvalidValue, TargetNotDialable
from domain.outdial import NO_CAMPAIGN, Outdial
from domain.plan import Plan
from domain.target import Dial, Target

Clock = Callable[[], datetime]
BATCH_MAX = 1_000
TARGET_SNAPSHOT_INTERVAL = 50

A = TypeVar("A", bound=Aggregate)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewTarget:
    """What a caller gives to create a target; addresses are already valid."""

    destinations: Sequence[Address | None]
    name: str = ""
    detail: str = ""
    data: str = ""
    id: UUID | None = None


class OutdialService(Application[UUID]):
    """Outdials, their targets, and every dial made to them."""

    # Pinned: the name keys tracking rows and the store; a class rename must not change it.
    name = "outdial"
    snapshotting_intervals = {Target: TARGET_SNAPSHOT_INTERVAL}  # noqa: RUF012

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        storage: Storage | None = None,
        clock: Clock = utc_now,
    ) -> None:
        settings = dict(storage.event_store_env()) if storage is not None else {}
        settings.update(env or {})
        super().__init__(settings)
        self.clock = clock
        self._claims = Claims()
        self._positions = threading.local()

    @property
    def last_position(self) -> int | None:
        """Notification id of this thread's latest write, for read-your-writes waits."""
        position: int | None = getattr(self._positions, "last", None)
        return position

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # -- outdials ---------------------------------------------------------------

    def create_outdial(
        self,
        customer_id: UUID,
        *,
        name: str = "",
        detail: str = "",
        data: str = "",
        campaign_id: UUID = NO_CAMPAIGN,
    ) -> Outdial:
        outdial = Outdial.create(
            outdial_id=uuid4(),
            customer_id=customer_id,
            campaign_id=campaign_id,
            name=name,
            detail=detail,
            data=data,
            at=self.clock(),
        )
        self._save(outdial)
        return outdial

    def get_outdial(self, customer_id: UUID, outdial_id: UUID) -> Outdial:
        outdial = self._load(Outdial, outdial_id, OutdialNotFound)
        if outdial.customer_id != customer_id:
            raise OutdialNotFound(f"outdial {outdial_id} not found")
        return outdial

    def update_outdial(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        *,
        name: str | None = None,
        detail: str | None = None,
    ) -> Outdial:
        """Change the name and the detail; one left out (None) keeps its value."""
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.update(
            name=outdial.name if name is None else name,
            detail=outdial.detail if detail is None else detail,
            at=self.clock(),
        )
        self._save(outdial)
        return outdial

    def change_outdial_campaign(
        self, customer_id: UUID, outdial_id: UUID, campaign_id: UUID
    ) -> Outdial:
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.change_campaign(campaign_id=campaign_id, at=self.clock())
        self._save(outdial)
        return outdial

    def change_outdial_data(self, customer_id: UUID, outdial_id: UUID, data: str) -> Outdial:
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.change_data(data=data, at=self.clock())
        self._save(outdial)
        return outdial

    def change_outdial_plan(
        self, customer_id: UUID, outdial_id: UUID, changes: Mapping[str, Any]
    ) -> Outdial:
        """Set the outdial's default plan; fields left out keep their value."""
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.change_plan(plan=outdial.plan.with_changes(changes), at=self.clock())
        self._save(outdial)
        return outdial

    def delete_outdial(self, customer_id: UUID, outdial_id: UUID) -> Outdial:
        outdial = self.get_outdial(customer_id, outdial_id)
        if outdial.delete(at=self.clock()):
            self._save(outdial)
        return outdial

    # -- targets ----------------------------------------------------------------

    def create_target(self, customer_id: UUID, outdial_id: UUID, new: NewTarget) -> Target:
        return self._create_targets(customer_id, outdial_id, [new], batch=False)[0]

    def create_targets(
        self, customer_id: UUID, outdial_id: UUID, batch: Sequence[NewTarget]
    ) -> list[Target]:
        """Create a batch of targets in one atomic write: all of them or none."""
        if not 1 <= len(batch) <= BATCH_MAX:
            raise InvalidValue("targets", f"must hold between 1 and {BATCH_MAX} targets")
        return self._create_targets(customer_id, outdial_id, batch, batch=True)

    def _create_targets(
        self, customer_id: UUID, outdial_id: UUID, news: Sequence[NewTarget], *, batch: bool
    ) -> list[Target]:
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.check_takes_targets()
        at = self.clock()
        targets = [
            _new_target(new, outdial_id, customer_id, at, field=f"targets[{n}]" if batch else "")
            for n, new in enumerate(news)
        ]
        self._save(*targets)
        return targets

    def get_target(self, customer_id: UUID, outdial_id: UUID, target_id: UUID) -> Target:
        target = self._load(Target, target_id, TargetNotFound)
        if target.customer_id != customer_id or target.outdial_id != outdial_id:
            raise TargetNotFound(f"target {target_id} not found in outdial {outdial_id}")
        return target

    def delete_target(self, customer_id: UUID, outdial_id: UUID, target_id: UUID) -> Target:
        target = self.get_target(customer_id, outdial_id, target_id)
        if target.delete(at=self.clock()):
            self._save(target)
        return target

    # -- dialing ----------------------------------------------------------------

    def plan_for(
        self, customer_id: UUID, outdial_id: UUID, changes: Mapping[str, Any] | None = None
    ) -> Plan:
        """The outdial's plan, with the fields a request gives replacing its own."""
        return self.get_outdial(customer_id, outdial_id).plan.with_changes(changes or {})

    def start_dial(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        target_id: UUID,
        *,
        plan_changes: Mapping[str, Any] | None = None,
        destination_index: int | None = None,
        reference_id: str = "",
        manual: bool = True,
    ) -> Dial:
        """Start one dial. ``manual`` (an operator's redial) does not wait for try_interval."""
        outdial = self.get_outdial(customer_id, outdial_id)
        return self._start_dial(
            outdial,
            target_id,
            plan=outdial.plan.with_changes(plan_changes or {}),
            destination_index=destination_index,
            reference_id=reference_id,
            manual=manual,
        )

    def finish_dial(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        target_id: UUID,
        dial_id: UUID,
        *,
        result: str,
        reason: str = "",
    ) -> Target:
        """Record a dial's result; repeating the same finish records nothing."""
        target = self.get_target(customer_id, outdial_id, target_id)
        if target.finish_dial(dial_id=dial_id, result=result, reason=reason, at=self.clock()):
            self._save(target)
        return target

    def dispatch(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        candidates: Iterable[UUID],
        *,
        limit: int,
        plan_changes: Mapping[str, Any] | None = None,
    ) -> list[tuple[UUID, Dial]]:
        """Claim up to ``limit`` of the candidates and start one dial on each.

        Candidates come from the read model, which may lag: the aggregate decides.
        A candidate another dispatcher is taking or just took (a lost race, or no longer
        idle) is skipped, so contention moves on to the next candidate instead of failing.
        Answers (target id, dial) pairs.
        """
        outdial = self.get_outdial(customer_id, outdial_id)
        plan = outdial.plan.with_changes(plan_changes or {})
        started: list[tuple[UUID, Dial]] = []
        for target_id in candidates:
            if len(started) >= limit:
                break
            with self._claims.claim(target_id) as claimed:
                if not claimed:
                    continue
                try:
                    dial = self._start_dial(outdial, target_id, plan=plan, manual=False)
                except (ConcurrentChange, TargetNotDialable, TargetNotFound):
                    continue
                started.append((target_id, dial))
        return started

    def time_out_dial(self, target_id: UUID, dial_id: UUID) -> Target:
        """The service's own finish of a dial past its plan's dial_timeout."""
        target = self._load(Target, target_id, TargetNotFound)
        target.time_out_dial(dial_id=dial_id, at=self.clock())
        self._save(target)
        return target

    # -- internals --------------------------------------------------------------

    def _start_dial(
        self,
        outdial: Outdial,
        target_id: UUID,
        *,
        plan: Plan,
        manual: bool,
        destination_index: int | None = None,
        reference_id: str = "",
    ) -> Dial:
        target = self.get_target(outdial.customer_id, outdial.id, target_id)
        if outdial.is_deleted:
            raise TargetNotDialable(f"outdial {outdial.id} is deleted")
        dial = target.start_dial(
            dial_id=uuid4(),
            plan=plan,
            destination_index=destination_index,
            reference_id=reference_id,
            at=self.clock(),
            honour_try_interval=not manual,
        )
        self._save(target)
        return dial

    def _load(self, kind: type[A], aggregate_id: UUID, missing: type[Exception]) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing(f"{kind.__name__.lower()} {aggregate_id} not found") from None
        if not isinstance(aggregate, kind):
            raise missing(f"{kind.__name__.lower()} {aggregate_id} not found")
        return aggregate

    def _save(self, *aggregates: Aggregate) -> None:
        with translate_conflicts():
            recordings = self.save(*aggregates)
        if recordings:
            self._positions.last = max(r.notification.id for r in recordings)


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


@contextmanager
def translate_conflicts() -> Iterator[None]:
    try:
        yield
    except IntegrityError as error:
        raise ConcurrentChange("another change to the same resource won; retry") from error


def _new_target(
    new: NewTarget, outdial_id: UUID, customer_id: UUID, at: datetime, field: str
) -> Target:
    try:
        return Target.create(
            target_id=new.id or uuid4(),
            outdial_id=outdial_id,
            customer_id=customer_id,
            destinations=new.destinations,
            name=new.name,
            detail=new.detail,
            data=new.data,
            at=at,
        )
    except InvalidValue as error:
        if not field:
            raise
        raise InvalidValue(f"{field}.{error.field}", error.problem) from None
