"""Stored events (a target's, an outdial's, a do-not-call entry's) and a target's replay,
as auditors and engineers read them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Timestamp
from api.schemas.targets import TargetOut
from api.schemas.values import RetryRuleOut


class EventOut(BaseModel):
    version: int = Field(ge=1)
    type: Literal["Created", "DialStarted", "DialFinished", "Deleted"]
    timestamp: Timestamp
    data: dict[str, Any]
    erased: bool = Field(
        default=False,
        description="Present, true, when read after the target was erased: its personal "
        'fields are "" (an address keeps its type).',
    )


class EventsOut(BaseModel):
    result: list[EventOut]


class OutdialEventOut(BaseModel):
    version: int = Field(ge=1)
    type: Literal[
        "Created",
        "Updated",
        "CampaignChanged",
        "DataChanged",
        "PlanChanged",
        "Paused",
        "Resumed",
        "CallingWindowChanged",
        "Deleted",
    ]
    timestamp: Timestamp
    data: dict[str, Any] = Field(description="The event's own fields, and `actor`.")


class OutdialEventsOut(BaseModel):
    result: list[OutdialEventOut]


class DoNotCallEventOut(BaseModel):
    version: int = Field(ge=1)
    type: Literal["Added", "Changed", "Removed"]
    timestamp: Timestamp
    data: dict[str, Any] = Field(description="The event's own fields, and `actor`.")


class DoNotCallEventsOut(BaseModel):
    result: list[DoNotCallEventOut]


class ReplayRuleOut(RetryRuleOut):
    """The retry rule of the dial's plan that decided this finish."""

    said: str = Field(
        description="The decision as people read it: the reason (for the rule * the "
        "dial's own), the action and the dial.",
        examples=["invalid_number → next_destination, dial 5e0d7d8b-8f5c-4b53-a1b7-0d3c4f8e9a10"],
    )


class ReplayStepOut(BaseModel):
    event: EventOut
    state: TargetOut = Field(description="The target after the event.")
    changes: dict[str, tuple[Any, Any]] = Field(
        description="The fields the event changed: [old, new]; old is null for Created."
    )
    rule: ReplayRuleOut | None = Field(
        description="A DialFinished that a retry rule decided (a fail whose reason matched "
        "a rule of the plan its DialStarted recorded): that rule; else null."
    )


class ReplayOut(BaseModel):
    result: list[ReplayStepOut]
