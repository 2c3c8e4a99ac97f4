"""Outdials: the containers of targets, with their default dial plan."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import (
    BODY,
    NEXT_PAGE_TOKEN,
    CampaignId,
    Data,
    DeletedAt,
    Detail,
    Name,
    Timestamp,
)
from api.schemas.values import PlanOut
from domain.outdial import NO_CAMPAIGN


class OutdialOut(BaseModel):
    id: UUID
    customer_id: UUID
    campaign_id: UUID = Field(description=f"{NO_CAMPAIGN} when not attached to a campaign")
    name: str
    detail: str
    data: str
    plan: PlanOut
    tm_create: Timestamp
    tm_update: Timestamp
    tm_delete: DeletedAt


class OutdialPage(BaseModel):
    result: list[OutdialOut]
    next_page_token: str = NEXT_PAGE_TOKEN


class OutdialIn(BaseModel):
    model_config = BODY

    campaign_id: CampaignId = NO_CAMPAIGN
    name: Name = ""
    detail: Detail = ""
    data: Data = ""


class OutdialUpdateIn(BaseModel):
    """Fields left out keep their value (VoIPbin's CLI sends only the flags it was given)."""

    model_config = BODY

    name: Name = ""
    detail: Detail = ""

    def given(self, field: str) -> str | None:
        """The field's new value, or None when it was left out."""
        value: str = getattr(self, field)
        return value if field in self.model_fields_set else None


class OutdialCampaignIn(BaseModel):
    model_config = BODY

    campaign_id: CampaignId


class OutdialDataIn(BaseModel):
    model_config = BODY

    data: Data
