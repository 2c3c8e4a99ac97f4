"""The event feed on the wire: a customer's events after a position, and the webhook that
delivers them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.schemas.common import Timestamp


class FeedEventOut(BaseModel):
    position: int = Field(
        ge=1, description="The event store's notification id: global, increasing, with gaps."
    )
    aggregate: Literal["target", "outdial", "do_not_call"]
    aggregate_id: str
    outdial_id: str | None = Field(
        description="The outdial of a target or outdial event, or of a do-not-call entry "
        "scoped to one; null for an entry of every outdial."
    )
    version: int = Field(ge=1)
    type: str = Field(examples=["Target.DialStarted", "Outdial.Paused", "DoNotCallEntry.Added"])
    timestamp: Timestamp
    actor: str = Field(
        description='Who caused it: a key id, or system:...; "" before actors were recorded.'
    )
    data: dict[str, Any] = Field(description="The event's own fields.")


class FeedPageOut(BaseModel):
    result: list[FeedEventOut]
    next_after: int = Field(
        ge=0,
        description="The last position examined: the `after` of the next read, so a filtered "
        "reader moves on even when nothing matched.",
    )
