"""Outdial targets: the people a campaign calls, each with up to five destinations."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import BODY, NEXT_PAGE_TOKEN, Data, DeletedAt, Detail, Name, Timestamp
from api.schemas.values import AddressIn, AddressOut
from application.service import BATCH_MAX, NewTarget

TargetStatus = Literal["idle", "progressing", "done"]


class TargetOut(BaseModel):
    """An outdial target: the seed resource's fields, in its order."""

    id: UUID
    outdial_id: UUID
    name: str
    detail: str
    data: str
    status: TargetStatus
    destination_0: AddressOut | None
    destination_1: AddressOut | None
    destination_2: AddressOut | None
    destination_3: AddressOut | None
    destination_4: AddressOut | None
    try_count_0: int
    try_count_1: int
    try_count_2: int
    try_count_3: int
    try_count_4: int
    tm_create: Timestamp
    tm_update: Timestamp
    tm_delete: DeletedAt


class TargetPage(BaseModel):
    result: list[TargetOut]
    next_page_token: str = NEXT_PAGE_TOKEN


class TargetIn(BaseModel):
    """A new target; at least one destination must be set."""

    model_config = BODY

    name: Name = ""
    detail: Detail = ""
    data: Data = ""
    destination_0: AddressIn | None = None
    destination_1: AddressIn | None = None
    destination_2: AddressIn | None = None
    destination_3: AddressIn | None = None
    destination_4: AddressIn | None = None

    def new_target(self, field_prefix: str = "") -> NewTarget:
        """The application's command; address errors name ``<prefix>destination_N.<field>``."""
        slots = (
            self.destination_0,
            self.destination_1,
            self.destination_2,
            self.destination_3,
            self.destination_4,
        )
        destinations = [
            None if slot is None else slot.value(f"{field_prefix}destination_{n}")
            for n, slot in enumerate(slots)
        ]
        return NewTarget(
            destinations=destinations, name=self.name, detail=self.detail, data=self.data
        )


class TargetBatchIn(BaseModel):
    model_config = BODY

    targets: list[TargetIn] = Field(min_length=1, max_length=BATCH_MAX)

    def new_targets(self) -> list[NewTarget]:
        return [target.new_target(f"targets[{n}].") for n, target in enumerate(self.targets)]


class TargetBatchOut(BaseModel):
    result: list[TargetOut]
