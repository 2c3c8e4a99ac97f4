"""Dials: the campaign engine's calls, and every attempt as auditors read it."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import NEXT_PAGE_TOKEN, STRICT_BODY, Timestamp
from api.schemas.values import AddressOut, PlanChangesIn, PlanOut
from domain.plan import DESTINATION_SLOTS
from domain.target import REASON_MAX, REFERENCE_ID_MAX

LIMIT_MAX = 100
DialResult = Literal["success", "fail"]


class DialOut(BaseModel):
    """One attempt to reach one destination of a target."""

    id: UUID
    outdial_id: UUID
    outdial_target_id: UUID
    destination_index: int = Field(ge=0, lt=DESTINATION_SLOTS)
    destination: AddressOut
    try_count: int
    reference_id: str = Field(description='"" when none')
    status: Literal["progressing", "done"]
    result: Literal["", "success", "fail"]
    reason: str
    plan: PlanOut
    time_zones: list[str] = Field(
        description="the time zones its outdial's calling window was judged in when it "
        "started; [] when the outdial had no window"
    )
    tm_start: Timestamp
    tm_end: Timestamp | None = Field(description="null while progressing")
    duration_ms: int | None = Field(description="null while progressing")
    actor: str = Field(
        description="who started it: the id of the API key (`kid_...`); "
        '"" for dials recorded before actors were'
    )
    manual: bool = Field(description="an operator's start (POST .../dials), not a dispatch")


BlockingRule = Literal[
    "DELETED",
    "OUTDIAL_DELETED",
    "OUTDIAL_PAUSED",
    "NOT_IDLE",
    "NO_TRIES_LEFT",
    "TRY_INTERVAL",
    "OUTSIDE_CALLING_WINDOW",
    "ON_DO_NOT_CALL",
]


class BlockedOut(BaseModel):
    rule: BlockingRule
    message: str
    entries: list[UUID] = Field(
        default_factory=list,
        description="ON_DO_NOT_CALL only: the ids of the do-not-call entries that block it",
    )


class AvailabilityOut(BaseModel):
    """Why the campaign engine may or may not dial the target now."""

    available: bool
    next_destination: int | None = Field(
        description="the destination a dial would use: the first with tries left that is "
        "not on the do-not-call list; null when there is none"
    )
    ready_at: Timestamp | None = Field(
        description="when the try_interval after the last dial ends; with a calling window "
        "closed now or then, the first instant after that (or after now) at which it is open. "
        "null when never dialed and the window (if any) is open, or when the window does not "
        "open within 8 days"
    )
    blocked_by: list[BlockedOut] = Field(description="every rule that stops it; [] when none")
    plan: PlanOut = Field(description="the plan judged: the outdial's, with the query's fields")


class DialPage(BaseModel):
    result: list[DialOut]
    next_page_token: str = NEXT_PAGE_TOKEN


class DispatchIn(BaseModel):
    model_config = STRICT_BODY

    plan: PlanChangesIn | None = None
    limit: int = Field(ge=1, le=LIMIT_MAX, description="How many targets to claim at most.")

    def plan_changes(self) -> dict[str, Any]:
        return self.plan.changes() if self.plan else {}


class DispatchOut(BaseModel):
    result: list[DialOut]


class DialStartIn(BaseModel):
    model_config = STRICT_BODY

    plan: PlanChangesIn | None = None
    destination_index: int | None = Field(
        default=None,
        ge=0,
        lt=DESTINATION_SLOTS,
        description="Default: the next destination in order.",
    )
    reference_id: str = Field(default="", max_length=REFERENCE_ID_MAX)

    def plan_changes(self) -> dict[str, Any]:
        return self.plan.changes() if self.plan else {}


class DialFinishIn(BaseModel):
    model_config = STRICT_BODY

    result: DialResult
    reason: str = Field(
        default="",
        description=f"Free text such as normal, busy, noanswer; cut to {REASON_MAX} characters.",
    )
