"""An erasure: a customer's request that some targets' personal data be destroyed.

The targets it names keep their events (a target not yet deleted is deleted); what makes
their personal fields unreadable is the destruction of their keys, which happens where
the events are stored, not here. The erasure is the lasting record that it was asked
for and honoured: whom it erased (target ids, or every target of a deleted outdial), why
and by whom; never the personal data it erased, such as the address it was asked for.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.text import checked_name

NO_OUTDIAL = UUID(int=0)  # an erasure of targets named one by one
TARGET_IDS_MAX = 1_000


class Erasure(Aggregate, created_event_name="Recorded"):
    """One erasure request, honoured: recorded once, never changed."""

    TOPIC = "outdial:Erasure"

    if TYPE_CHECKING:  # see Target: annotations at run time would make a dataclass
        customer_id: UUID
        target_ids: list[UUID]
        outdial_id: UUID
        count: int
        reason: str
        actor: str

    class Created(Aggregate.Created):
        """The library's base of creation events, named for it; erasures begin with
        Recorded."""

        TOPIC = "outdial:Erasure.Created"

    class Recorded(Created):
        TOPIC = "outdial:Erasure.Recorded"
        customer_id: UUID
        target_ids: list[UUID]  # the targets erased ([] for a whole outdial's)
        outdial_id: UUID  # the deleted outdial whose every target is erased, or NO_OUTDIAL
        count: int  # how many targets it erased
        reason: str
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            erasure: Erasure = aggregate
            erasure.customer_id = self.customer_id
            erasure.target_ids = list(self.target_ids)
            erasure.outdial_id = self.outdial_id
            erasure.count = self.count
            erasure.reason = self.reason
            erasure.actor = self.actor

    def __deepcopy__(self, memo: dict[int, Any]) -> Erasure:
        """Every value it holds is immutable but its pending events (see Outdial)."""
        copied = copy.copy(self)
        copied.__dict__["_pending_events"] = list(self._pending_events)
        return copied

    @classmethod
    def of_targets(
        cls,
        *,
        erasure_id: UUID,
        customer_id: UUID,
        target_ids: Sequence[UUID],
        reason: str,
        at: datetime,
        actor: str = "",
    ) -> Erasure:
        """The erasure of these targets (none: an address that matched nobody)."""
        return cls._recorded(
            erasure_id,
            customer_id,
            list(target_ids),
            NO_OUTDIAL,
            len(target_ids),
            reason,
            at,
            actor,
        )

    @classmethod
    def of_outdial(
        cls,
        *,
        erasure_id: UUID,
        customer_id: UUID,
        outdial_id: UUID,
        count: int,
        reason: str,
        at: datetime,
        actor: str = "",
    ) -> Erasure:
        """The erasure of every target of a deleted outdial (``count`` of them)."""
        return cls._recorded(erasure_id, customer_id, [], outdial_id, count, reason, at, actor)

    @classmethod
    def _recorded(
        cls,
        erasure_id: UUID,
        customer_id: UUID,
        target_ids: list[UUID],
        outdial_id: UUID,
        count: int,
        reason: str,
        at: datetime,
        actor: str,
    ) -> Erasure:
        return cls._create(
            cls.Recorded,
            id=erasure_id,
            timestamp=at,
            customer_id=customer_id,
            target_ids=target_ids,
            outdial_id=outdial_id,
            count=count,
            reason=checked_name(reason, "reason"),
            actor=actor,
        )
