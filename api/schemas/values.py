"""The domain's value objects on the wire: addresses (destinations) and dial plans."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from api.schemas.common import BODY, STRICT_BODY, WholeNumber
from domain.address import ADDRESS_FIELD_MAX, ADDRESS_TYPES, Address
from domain.plan import (
    DIAL_TIMEOUT_MAX_MS,
    DIAL_TIMEOUT_MIN_MS,
    MAX_TRY_COUNT_LIMIT,
    TRY_INTERVAL_MAX_MS,
)

TARGET_RULES = (
    "tel/whatsapp: E.164; sip: user@domain; email: an e-mail address; "
    "extension/line: non-empty; agent/conference/webchat/web_session: a UUID."
)


class AddressOut(BaseModel):
    """A destination. Each type has its own rule for `target`."""

    type: str = Field(json_schema_extra={"enum": list(ADDRESS_TYPES)}, examples=["tel"])
    target: str = Field(description=TARGET_RULES, examples=["+821100000001"])
    target_name: str
    name: str
    detail: str


class AddressIn(BaseModel):
    """A destination as callers send it, VoIPbin's own clients included.

    Unset when every field is empty (`{}`, as VoIPbin's Go SDK sends the destinations it
    does not use). Without a `type`, a `target` that is an E.164 number is a `tel` address
    (VoIPbin's CLI sends only the number); any other target then needs its `type`.
    The labels may be null (read as "").
    """

    model_config = BODY

    type: str = Field(
        default="",
        max_length=ADDRESS_FIELD_MAX,
        json_schema_extra={"enum": ["", *ADDRESS_TYPES]},
        description='"" or left out: `tel` when `target` is an E.164 number.',
        examples=["tel"],
    )
    target: str = Field(
        default="",
        max_length=ADDRESS_FIELD_MAX,
        description=TARGET_RULES,
        examples=["+821100000001"],
    )
    target_name: str | None = Field(default="", max_length=ADDRESS_FIELD_MAX)
    name: str | None = Field(default="", max_length=ADDRESS_FIELD_MAX)
    detail: str | None = Field(default="", max_length=ADDRESS_FIELD_MAX)

    def value(self, field: str) -> Address | None:
        """The domain's address, or None when unset; its rules name ``field`` when they
        refuse it."""
        return Address.parse_destination(self.model_dump(), field)


TryCount = Annotated[int, Field(ge=0, le=MAX_TRY_COUNT_LIMIT)]
TryInterval = Annotated[int, Field(ge=0, le=TRY_INTERVAL_MAX_MS, description="ms")]
DialTimeout = Annotated[
    int, Field(ge=DIAL_TIMEOUT_MIN_MS, le=DIAL_TIMEOUT_MAX_MS, description="ms")
]


class PlanOut(BaseModel):
    """How targets are dialed: tries per destination, ms between dials, ms until timeout."""

    max_try_count_0: TryCount
    max_try_count_1: TryCount
    max_try_count_2: TryCount
    max_try_count_3: TryCount
    max_try_count_4: TryCount
    try_interval: TryInterval
    dial_timeout: DialTimeout


class TryPlanQuery(BaseModel):
    """Plan fields that decide whether a target is available; left out: the outdial's."""

    max_try_count_0: Annotated[TryCount | None, WholeNumber] = None
    max_try_count_1: Annotated[TryCount | None, WholeNumber] = None
    max_try_count_2: Annotated[TryCount | None, WholeNumber] = None
    max_try_count_3: Annotated[TryCount | None, WholeNumber] = None
    max_try_count_4: Annotated[TryCount | None, WholeNumber] = None
    try_interval: Annotated[TryInterval | None, WholeNumber] = None

    def changes(self) -> dict[str, int]:
        return self.model_dump(exclude_none=True)


class PlanChangesIn(TryPlanQuery):
    """Plan fields to change; fields left out keep the outdial's value."""

    model_config = STRICT_BODY

    dial_timeout: DialTimeout | None = None
