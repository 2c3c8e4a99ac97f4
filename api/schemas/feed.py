"""The event feed on the wire: a customer's events after a position, and the webhook that
delivers them."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import BODY, Timestamp

# A URL of at most this many characters.
URL_MAX = 2_000


class FeedEventOut(BaseModel):
    position: int = Field(
        ge=1, description="The event store's notification id: global, increasing, with gaps."
    )
    aggregate: Literal["target", "outdial", "do_not_call", "erasure"]
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
    erased: bool = Field(
        default=False,
        description="Present, true, when read after the target was erased: its personal "
        'fields are "" (an address keeps its type).',
    )


class FeedPageOut(BaseModel):
    result: list[FeedEventOut]
    next_after: int = Field(
        ge=0,
        description="The last position examined: the `after` of the next read, so a filtered "
        "reader moves on even when nothing matched.",
    )


class WebhookIn(BaseModel):
    model_config = BODY

    url: str = Field(
        max_length=URL_MAX,
        description="http or https; a private, loopback or link-local host is refused "
        "unless the service allows it (OUTDIAL_WEBHOOK_ALLOW_PRIVATE).",
    )
    types: list[str] | None = Field(
        default=None, description="The event types to deliver; null or [] for every type."
    )
    outdial_id: UUID | None = Field(default=None, description="Only this outdial's events.")


class WebhookOut(BaseModel):
    url: str
    types: list[str] | None = Field(description="null: every type")
    outdial_id: str | None
    secret: str | None = Field(
        description="The signing secret: in the answer of a PUT only, null elsewhere."
    )
    status: Literal["active", "failing"] = Field(
        description="failing after 24 h of failed deliveries, until one is acknowledged"
    )
    position: int = Field(ge=0, description="The last event the receiver acknowledged.")


class DeliveryOut(BaseModel):
    id: str = Field(description="The X-Outdial-Delivery header of the attempt.")
    tm_attempt: Timestamp
    from_position: int
    to_position: int
    status_code: int | None = Field(description="null when nothing answered")
    error: str = Field(description='"" when acknowledged')
    duration_ms: int


class DeliveriesOut(BaseModel):
    result: list[DeliveryOut]
