"""Dials: the campaign engine's calls, and every attempt as auditors read it."""

from __future__ import annotations

from typing import Literal
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
    tm_start: Timestamp
    tm_end: Timestamp | None = Field(description="null while progressing")
    duration_ms: int | None = Field(description="null while progressing")
    actor: str = Field(
        description="who started it: the id of the API key (`kid_...`); "
        '"" for dials recorded before actors were'
    )
    manual: bool = Field(description="an operator's start (POST .../dials), not a dispatch")


class BlockedOut(BaseModel):
    rule: Literal["DELETED", "OUTDIAL_DELETED", "NOT_IDLE", "NO_TRIES_LEFT", "TRY_INTERVAL"]
    message: str


class AvailabilityOut(BaseModel):
    """Why the campaign engine may or may not dial the target now."""

    available: bool
    next_destination: int | None = Field(
        description="the destination a dial would use; null when none has tries left"
    )
    ready_at: Timestamp | None = Field(
        description="when the try_interval after the last dial ends; null before any dial"
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

    def plan_changes(self) -> dict[str, int]:
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

    def plan_changes(self) -> dict[str, int]:
        return self.plan.changes() if self.plan else {}


class DialFinishIn(BaseModel):
    model_config = STRICT_BODY

    result: DialResult
    reason: str = Field(
        default="",
        description=f"Free text such as normal, busy, noanswer; cut to {REASON_MAX} characters.",
    )
