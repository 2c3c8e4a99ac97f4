"""The Outdial aggregate: the container of targets, with its default dial plan."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.availability import Blocked
from domain.calling_window import CallingWindow
from domain.errors import OutdialDeleted, OutdialNotDeleted
from domain.plan import DEFAULT_PLAN, Plan
from domain.text import checked_data, checked_detail, checked_name
from domain.timeline import event_time

NO_CAMPAIGN = UUID(int=0)


class Outdial(Aggregate):
    """Outdial: name, detail, data, campaign and plan; deleted softly, once."""

    TOPIC = "outdial:Outdial"

    if TYPE_CHECKING:  # see Target: annotations at run time would make a dataclass
        customer_id: UUID
        campaign_id: UUID
        name: str
        detail: str
        data: str
        plan: Plan
        deleted_at: datetime | None
        paused: bool
        calling_window: CallingWindow | None

    class Created(Aggregate.Created):
        TOPIC = "outdial:Outdial.Created"
        customer_id: UUID
        campaign_id: UUID
        name: str
        detail: str
        data: str
        actor: str = ""  # who: an API key's id, or system:...; "" in events before it

        def apply(self, aggregate: Any) -> None:
            outdial: Outdial = aggregate
            outdial.customer_id = self.customer_id
            outdial.campaign_id = self.campaign_id
            outdial.name = self.name
            outdial.detail = self.detail
            outdial.data = self.data
            outdial.plan = DEFAULT_PLAN
            outdial.deleted_at = None
            outdial.paused = False
            outdial.calling_window = None

    class Updated(Aggregate.Event):
        TOPIC = "outdial:Outdial.Updated"
        name: str
        detail: str
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.name
            aggregate.detail = self.detail

    class CampaignChanged(Aggregate.Event):
        TOPIC = "outdial:Outdial.CampaignChanged"
        campaign_id: UUID
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.campaign_id = self.campaign_id

    class DataChanged(Aggregate.Event):
        TOPIC = "outdial:Outdial.DataChanged"
        data: str
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.data = self.data

    class PlanChanged(Aggregate.Event):
        TOPIC = "outdial:Outdial.PlanChanged"
        plan: Plan
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.plan = self.plan

    class Paused(Aggregate.Event):
        TOPIC = "outdial:Outdial.Paused"
        reason: str
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.paused = True

    class Resumed(Aggregate.Event):
        TOPIC = "outdial:Outdial.Resumed"
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.paused = False

    class CallingWindowChanged(Aggregate.Event):
        TOPIC = "outdial:Outdial.CallingWindowChanged"
        window: CallingWindow | None
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.calling_window = self.window

    class Deleted(Aggregate.Event):
        TOPIC = "outdial:Outdial.Deleted"
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.deleted_at = self.timestamp

    def __deepcopy__(self, memo: dict[int, Any]) -> Outdial:
        """A copy for one command: every value it holds is immutable but its pending
        events, so a shallow copy is enough and far cheaper than a deep one."""
        copied = copy.copy(self)
        copied.__dict__["_pending_events"] = list(self._pending_events)
        return copied

    @classmethod
    def create(
        cls,
        *,
        outdial_id: UUID,
        customer_id: UUID,
        at: datetime,
        campaign_id: UUID = NO_CAMPAIGN,
        name: str = "",
        detail: str = "",
        data: str = "",
        actor: str = "",
    ) -> Outdial:
        return cls._create(
            cls.Created,
            id=outdial_id,
            timestamp=at,
            customer_id=customer_id,
            campaign_id=campaign_id,
            name=checked_name(name),
            detail=checked_detail(detail),
            data=checked_data(data),
            actor=actor,
        )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def update(self, *, name: str, detail: str, at: datetime, actor: str = "") -> None:
        self._check_not_deleted()
        self.trigger_event(
            self.Updated,
            timestamp=self._event_time(at),
            name=checked_name(name),
            detail=checked_detail(detail),
            actor=actor,
        )

    def change_campaign(self, *, campaign_id: UUID, at: datetime, actor: str = "") -> None:
        self._check_not_deleted()
        self.trigger_event(
            self.CampaignChanged,
            timestamp=self._event_time(at),
            campaign_id=campaign_id,
            actor=actor,
        )

    def change_data(self, *, data: str, at: datetime, actor: str = "") -> None:
        self._check_not_deleted()
        self.trigger_event(
            self.DataChanged, timestamp=self._event_time(at), data=checked_data(data), actor=actor
        )

    def change_plan(self, *, plan: Plan, at: datetime, actor: str = "") -> None:
        self._check_not_deleted()
        self.trigger_event(self.PlanChanged, timestamp=self._event_time(at), plan=plan, actor=actor)

    @property
    def status(self) -> str:
        return "paused" if self.paused else "running"

    def pause(self, *, reason: str = "", at: datetime, actor: str = "") -> bool:
        """Stop every dial of its targets from starting; False when already paused."""
        self._check_not_deleted()
        reason = checked_name(reason, "reason")
        if self.paused:
            return False
        self.trigger_event(self.Paused, timestamp=self._event_time(at), reason=reason, actor=actor)
        return True

    def resume(self, *, at: datetime, actor: str = "") -> bool:
        """Dial again; False when it was running."""
        self._check_not_deleted()
        if not self.paused:
            return False
        self.trigger_event(self.Resumed, timestamp=self._event_time(at), actor=actor)
        return True

    def change_calling_window(
        self, *, window: CallingWindow | None, at: datetime, actor: str = ""
    ) -> bool:
        """Set the window (None: dial at any time); False when it is the same."""
        self._check_not_deleted()
        if window == self.calling_window:
            return False
        self.trigger_event(
            self.CallingWindowChanged, timestamp=self._event_time(at), window=window, actor=actor
        )
        return True

    def delete(self, *, at: datetime, actor: str = "") -> bool:
        """Soft-delete once; False when already deleted (nothing new is recorded)."""
        if self.is_deleted:
            return False
        self.trigger_event(self.Deleted, timestamp=self._event_time(at), actor=actor)
        return True

    def check_takes_targets(self) -> None:
        self._check_not_deleted()

    def check_erasable_whole(self) -> None:
        """Its targets are erased all at once only after it is deleted (it takes no more)."""
        if not self.is_deleted:
            raise OutdialNotDeleted(
                f"outdial {self.id} is not deleted: delete it before erasing its targets"
            )

    def blocking(self) -> tuple[Blocked, ...]:
        """What of the outdial stops every one of its targets being dialed now."""
        if self.is_deleted:
            return (Blocked("OUTDIAL_DELETED", f"outdial {self.id} is deleted"),)
        if self.paused:
            return (Blocked("OUTDIAL_PAUSED", f"outdial {self.id} is paused"),)
        return ()

    def _check_not_deleted(self) -> None:
        if self.is_deleted:
            raise OutdialDeleted(f"outdial {self.id} is deleted")

    def _event_time(self, at: datetime) -> datetime:
        return event_time(self.modified_on, at)
