"""Erasures: a person's data destroyed on request, the proof of every dial kept."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import BODY, NEXT_PAGE_TOKEN, Name, Timestamp
from domain.address import ADDRESS_FIELD_MAX, ADDRESS_TYPES
from domain.erasure import NO_OUTDIAL, TARGET_IDS_MAX


class ErasureOut(BaseModel):
    """An erasure, as recorded: never the personal data it erased."""

    id: UUID
    target_ids: list[UUID] = Field(
        description="The targets erased (those found, for an address); [] for an outdial's."
    )
    outdial_id: UUID = Field(
        description=f"The deleted outdial whose every target was erased; {NO_OUTDIAL} if none."
    )
    count: int = Field(ge=0, description="How many targets it erased.")
    reason: str
    actor: str = Field(description="Who asked: a key id (`kid_...`).")
    tm_create: Timestamp


class ErasurePage(BaseModel):
    result: list[ErasureOut]
    next_page_token: str = NEXT_PAGE_TOKEN


class ErasureAddressIn(BaseModel):
    """An address: every target of the customer with a destination whose `target` is
    this one."""

    model_config = BODY

    type: str = Field(
        max_length=ADDRESS_FIELD_MAX,
        json_schema_extra={"enum": list(ADDRESS_TYPES)},
        examples=["tel"],
    )
    target: str = Field(max_length=ADDRESS_FIELD_MAX, examples=["+821100000001"])


class ErasureIn(BaseModel):
    """Exactly one of `target_ids`, `address` or `outdial_id`."""

    model_config = BODY

    target_ids: list[UUID] | None = Field(
        default=None,
        max_length=TARGET_IDS_MAX,
        description=f"1 to {TARGET_IDS_MAX:,} targets of the customer, in any outdial.",
    )
    address: ErasureAddressIn | None = None
    outdial_id: UUID | None = Field(
        default=None, description="A deleted outdial: every one of its targets."
    )
    reason: Name = ""
    do_not_call: bool | None = Field(
        default=None,
        description="With `address` only: true also puts the address on the do-not-call "
        "list of every outdial, in the same atomic write.",
    )
