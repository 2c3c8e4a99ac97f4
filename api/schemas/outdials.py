"""Outdials: the containers of targets, with their default dial plan."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field
from pydantic.config import JsonDict

from api.schemas.common import (
    BODY,
    NEXT_PAGE_TOKEN,
    STRICT_BODY,
    CampaignId,
    Data,
    DeletedAt,
    Detail,
    Name,
    Timestamp,
)
from api.schemas.values import PlanOut
from domain.calling_window import (
    CLOSED_DATES_MAX,
    HOURS_MAX,
    STOP_BEFORE_END_MAX_S,
    CallingWindow,
)
from domain.outdial import NO_CAMPAIGN

OutdialStatus = Literal["running", "paused"]

# The shape of a calling window, in and out. Its rules (a known zone, the bounds, start
# before end, real dates) are the domain's (CallingWindow.parse), which names the field at
# fault; the limits the description shows are its constants.
_CLOCK = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
Weekdays = Annotated[
    list[int],
    Field(
        description="ISO weekdays: 1 (Monday) .. 7 (Sunday)",
        json_schema_extra={"minItems": 1, "items": {"type": "integer", "minimum": 1, "maximum": 7}},
        examples=[[1, 2, 3, 4, 5]],
    ),
]
Start = Annotated[
    str, Field(description="HH:MM, before `end`", json_schema_extra={"pattern": _CLOCK})
]
End = Annotated[
    str,
    Field(
        description="HH:MM, after `start`; 24:00 is the midnight that ends the day (a window "
        "past midnight is two entries)",
        json_schema_extra={"pattern": _CLOCK},
    ),
]
TimeZone = Annotated[
    str,
    Field(
        description="An IANA time zone: the window's own, in which a destination is judged "
        "unless its number belongs to zones of its own (`use_number_time_zone`)",
        examples=["America/New_York"],
    ),
]
ClosedDates = Annotated[
    list[str],
    Field(
        description=f"Local dates (YYYY-MM-DD) closed all day; at most {CLOSED_DATES_MAX}",
        json_schema_extra={
            "maxItems": CLOSED_DATES_MAX,
            "items": {"type": "string", "format": "date"},
        },
    ),
]
UseNumberTimeZone = Annotated[
    bool,
    Field(
        description="Judge a tel or whatsapp destination in the zones its number belongs to "
        "(all of them must be open)"
    ),
]
StopBeforeEnd = Annotated[
    int,
    Field(
        description="Start no dial in the last seconds before each `end`: "
        f"0..{STOP_BEFORE_END_MAX_S}",
        json_schema_extra={"minimum": 0, "maximum": STOP_BEFORE_END_MAX_S},
    ),
]
HOURS_SCHEMA: JsonDict = {"minItems": 1, "maxItems": HOURS_MAX}


class CallingHoursOut(BaseModel):
    """Open from `start` until `end`, local time, on the weekdays `days`."""

    days: Weekdays
    start: Start
    end: End


class CallingWindowOut(BaseModel):
    """When the outdial may call, judged in each destination's time zones."""

    time_zone: TimeZone
    hours: list[CallingHoursOut] = Field(
        description=f"1..{HOURS_MAX} entries", json_schema_extra=HOURS_SCHEMA
    )
    closed_dates: ClosedDates
    use_number_time_zone: UseNumberTimeZone
    stop_before_end_seconds: StopBeforeEnd


class OutdialOut(BaseModel):
    id: UUID
    customer_id: UUID
    campaign_id: UUID = Field(description=f"{NO_CAMPAIGN} when not attached to a campaign")
    name: str
    detail: str
    data: str
    plan: PlanOut
    status: OutdialStatus = Field(description="running (new outdials run) or paused")
    calling_window: CallingWindowOut | None = Field(description="null: dial at any time")
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


class OutdialPauseIn(BaseModel):
    model_config = BODY

    reason: Name = Field(default="", description='Why, for the audit; null is read as "".')


class CallingHoursIn(BaseModel):
    model_config = STRICT_BODY

    days: Weekdays
    start: Start
    end: End


class CallingWindowIn(BaseModel):
    """A calling window; `time_zone` and `hours` are required."""

    model_config = STRICT_BODY

    time_zone: TimeZone
    hours: list[CallingHoursIn] = Field(
        description=f"1..{HOURS_MAX} entries", json_schema_extra=HOURS_SCHEMA
    )
    closed_dates: ClosedDates = Field(default_factory=list)
    use_number_time_zone: UseNumberTimeZone = True
    stop_before_end_seconds: StopBeforeEnd = 0

    def window(self) -> CallingWindow:
        """The domain's window; its rules name the field at fault (``hours[0].end``)."""
        return CallingWindow.parse(self.model_dump(), field="")
