"""The wire format (SPEC §2, §3): request and response bodies, query parameters,
and the conversion of aggregates and history into the same shapes the read model serves.

Limits come from the domain's constants, so the OpenAPI description and the domain's
own checks never disagree; the rules that a schema cannot say (an address's target
per type, plan ranges across fields) stay in the domain.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from application.history import EventRecord, ReplayStep, target_record
from application.service import BATCH_MAX, NewTarget
from domain.address import ADDRESS_FIELD_MAX, ADDRESS_TYPES
from domain.address import Address as AddressValue
from domain.errors import InvalidValue
from domain.outdial import NO_CAMPAIGN
from domain.outdial import Outdial as OutdialAggregate
from domain.plan import (
    DESTINATION_SLOTS,
    DIAL_TIMEOUT_MAX_MS,
    DIAL_TIMEOUT_MIN_MS,
    MAX_TRY_COUNT_LIMIT,
    TRY_INTERVAL_MAX_MS,
)
from domain.plan import Plan as PlanValue
from domain.target import REFERENCE_ID_MAX
from domain.target import Dial as DialMemory
from domain.target import Target as TargetAggregate
from domain.text import DATA_MAX, DETAIL_MAX, NAME_MAX
from domain.timeline import NOT_DELETED, format_timestamp, parse_timestamp
from projections.queries import PAGE_SIZE_MAX
from projections.readmodel import DIAL_FIELDS, OUTDIAL_FIELDS, wire
from projections.rows import dial_row, outdial_row

LIMIT_MAX = 100

Timestamp = Annotated[
    str,
    Field(
        description="UTC time, YYYY-MM-DD HH:MM:SS.ffffff",
        examples=["2022-04-30 17:52:16.484341"],
    ),
]
DeletedAt = Annotated[
    str,
    Field(
        description=f"UTC time of the soft delete; {NOT_DELETED} while not deleted",
        examples=[NOT_DELETED],
    ),
]


def _null_as_empty(value: object) -> object:
    return "" if value is None else value


def _as_data_text(value: object) -> object:
    """`data` is free text. VoIPbin's CLI sends `--data` parsed as JSON, so a JSON value
    other than a string is kept as its compact JSON text rather than refused."""
    if value is None or isinstance(value, str):
        return _null_as_empty(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _text(limit: int, description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "string", "maxLength": limit}, {"type": "null"}],
            "description": description,
        }
    )


Name = Annotated[
    str,
    BeforeValidator(_null_as_empty),
    Field(max_length=NAME_MAX),
    _text(NAME_MAX, 'null is read as "".'),
]
Detail = Annotated[
    str,
    BeforeValidator(_null_as_empty),
    Field(max_length=DETAIL_MAX),
    _text(DETAIL_MAX, 'null is read as "".'),
]
Data = Annotated[
    str,
    BeforeValidator(_as_data_text),
    Field(max_length=DATA_MAX),
    WithJsonSchema(
        {
            "description": f'Free text of at most {DATA_MAX} characters; null is read as "", '
            "and any other JSON value is kept as its compact JSON text.",
        }
    ),
]
# VoIPbin's Go SDK sends "campaign_id": "" when no campaign is given.
CampaignId = Annotated[
    UUID,
    BeforeValidator(lambda value: NO_CAMPAIGN if value == "" else value),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "uuid"}, {"type": "string", "enum": [""]}],
            "description": f'"" (or {NO_CAMPAIGN}) means not attached to a campaign.',
        }
    ),
]
# Bodies are JSON: a number field takes a number, not true or "5". (Query parameters
# arrive as text, so their models stay lax; models with UUIDs stay lax, since strict
# UUIDs refuse the strings JSON carries them in.)
STRICT_BODY = ConfigDict(extra="forbid", strict=True)
TargetStatus = Literal["idle", "progressing", "done"]
DialResult = Literal["success", "fail"]

# -- path and query parameters ---------------------------------------------------------

OutdialId = Annotated[UUID, Path(description="The outdial's id.")]
TargetId = Annotated[UUID, Path(description="The outdial target's id.")]
DialId = Annotated[UUID, Path(description="The dial's id.")]


@dataclass(frozen=True)
class Paging:
    page_size: int
    page_token: str


def paging(
    page_size: Annotated[
        int | None,
        Query(
            description=f"Items per page, 1..{PAGE_SIZE_MAX}; values outside are clamped to "
            f"{PAGE_SIZE_MAX}.",
        ),
    ] = None,
    page_token: Annotated[
        str,
        Query(
            description="The `next_page_token` of the previous page; or, as VoIPbin's clients "
            "send, a time such as `2022-04-30 17:52:16.484341`: the items sorted strictly "
            "before it.",
        ),
    ] = "",
) -> Paging:
    """SPEC §2: a page size outside 1..100 is clamped to 100 rather than refused."""
    size = PAGE_SIZE_MAX if page_size is None or not 1 <= page_size <= PAGE_SIZE_MAX else page_size
    return Paging(page_size=size, page_token=page_token)


def parse_time(text: str, field: str) -> datetime:
    try:
        return parse_timestamp(text)
    except (ValueError, OverflowError):
        raise InvalidValue(field, "must be a time such as 2022-04-30 17:52:16.484341") from None


# -- shared shapes ---------------------------------------------------------------------


class Address(BaseModel):
    """A destination. Each type has its own rule for `target` (SPEC §2)."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(
        max_length=ADDRESS_FIELD_MAX,
        json_schema_extra={"enum": list(ADDRESS_TYPES)},
        examples=["tel"],
    )
    target: str = Field(
        max_length=ADDRESS_FIELD_MAX,
        description="tel/whatsapp: E.164; sip: user@domain; email: an e-mail address; "
        "extension/line: non-empty; agent/conference/webchat/web_session: a UUID.",
        examples=["+821100000001"],
    )
    target_name: str = Field(default="", max_length=ADDRESS_FIELD_MAX)
    name: str = Field(default="", max_length=ADDRESS_FIELD_MAX)
    detail: str = Field(default="", max_length=ADDRESS_FIELD_MAX)


class AddressInput(BaseModel):
    """A destination as callers send it, VoIPbin's own clients included.

    Unset when every field is empty (`{}`, as VoIPbin's Go SDK sends the destinations it
    does not use). Without a `type`, a `target` that is an E.164 number is a `tel` address
    (VoIPbin's CLI sends only the number); any other target then needs its `type`.
    The labels may be null (read as "").
    """

    model_config = ConfigDict(extra="forbid")

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
        description=Address.model_fields["target"].description,
        examples=["+821100000001"],
    )
    target_name: str | None = Field(default="", max_length=ADDRESS_FIELD_MAX)
    name: str | None = Field(default="", max_length=ADDRESS_FIELD_MAX)
    detail: str | None = Field(default="", max_length=ADDRESS_FIELD_MAX)

    def value(self, field: str) -> AddressValue | None:
        """The domain's address, or None when unset; its rules name ``field`` when they
        refuse it."""
        return AddressValue.parse_destination(self.model_dump(), field)


TryCount = Annotated[int, Field(ge=0, le=MAX_TRY_COUNT_LIMIT)]
TryInterval = Annotated[int, Field(ge=0, le=TRY_INTERVAL_MAX_MS, description="ms")]
DialTimeout = Annotated[
    int, Field(ge=DIAL_TIMEOUT_MIN_MS, le=DIAL_TIMEOUT_MAX_MS, description="ms")
]


class Plan(BaseModel):
    """How targets are dialed: tries per destination, ms between dials, ms until timeout."""

    max_try_count_0: TryCount
    max_try_count_1: TryCount
    max_try_count_2: TryCount
    max_try_count_3: TryCount
    max_try_count_4: TryCount
    try_interval: TryInterval
    dial_timeout: DialTimeout


class TryPlanChanges(BaseModel):
    """Plan fields that decide whether a target is available; left out: the outdial's."""

    max_try_count_0: TryCount | None = None
    max_try_count_1: TryCount | None = None
    max_try_count_2: TryCount | None = None
    max_try_count_3: TryCount | None = None
    max_try_count_4: TryCount | None = None
    try_interval: TryInterval | None = None

    def changes(self) -> dict[str, int]:
        return self.model_dump(exclude_none=True)


class PlanChanges(TryPlanChanges):
    """Plan fields to change; fields left out keep the outdial's value."""

    model_config = STRICT_BODY

    dial_timeout: DialTimeout | None = None


# -- outdials --------------------------------------------------------------------------


class Outdial(BaseModel):
    id: UUID
    customer_id: UUID
    campaign_id: UUID = Field(description=f"{NO_CAMPAIGN} when not attached to a campaign")
    name: str
    detail: str
    data: str
    plan: Plan
    tm_create: Timestamp
    tm_update: Timestamp
    tm_delete: DeletedAt


class OutdialList(BaseModel):
    result: list[Outdial]
    next_page_token: str = Field(description='"" when there is no further page')


class OutdialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: CampaignId = NO_CAMPAIGN
    name: Name = ""
    detail: Detail = ""
    data: Data = ""


class OutdialUpdate(BaseModel):
    """Fields left out keep their value (VoIPbin's CLI sends only the flags it was given)."""

    model_config = ConfigDict(extra="forbid")

    name: Name = ""
    detail: Detail = ""

    def given(self, field: str) -> str | None:
        """The field's new value, or None when it was left out."""
        value: str = getattr(self, field)
        return value if field in self.model_fields_set else None


class OutdialCampaign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_id: CampaignId


class OutdialData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: Data


def outdial_wire(outdial: OutdialAggregate) -> dict[str, Any]:
    return wire(outdial_row(outdial), OUTDIAL_FIELDS)


# -- targets ---------------------------------------------------------------------------


class Target(BaseModel):
    """An outdial target: the seed resource's fields, in its order."""

    id: UUID
    outdial_id: UUID
    name: str
    detail: str
    data: str
    status: TargetStatus
    destination_0: Address | None
    destination_1: Address | None
    destination_2: Address | None
    destination_3: Address | None
    destination_4: Address | None
    try_count_0: int
    try_count_1: int
    try_count_2: int
    try_count_3: int
    try_count_4: int
    tm_create: Timestamp
    tm_update: Timestamp
    tm_delete: DeletedAt


class TargetList(BaseModel):
    result: list[Target]
    next_page_token: str = Field(description='"" when there is no further page')


class TargetCreate(BaseModel):
    """A new target; at least one destination must be set."""

    model_config = ConfigDict(extra="forbid")

    name: Name = ""
    detail: Detail = ""
    data: Data = ""
    destination_0: AddressInput | None = None
    destination_1: AddressInput | None = None
    destination_2: AddressInput | None = None
    destination_3: AddressInput | None = None
    destination_4: AddressInput | None = None

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


class TargetBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[TargetCreate] = Field(min_length=1, max_length=BATCH_MAX)

    def new_targets(self) -> list[NewTarget]:
        return [target.new_target(f"targets[{n}].") for n, target in enumerate(self.targets)]


class TargetBatchResult(BaseModel):
    result: list[Target]


def target_wire(target: TargetAggregate) -> dict[str, Any]:
    return record_wire(target_record(target))


def record_wire(record: Mapping[str, Any]) -> dict[str, Any]:
    """A target record of application.history in wire form."""
    return {field: field_wire(field, value) for field, value in record.items()}


def field_wire(field: str, value: Any) -> Any:
    if field == "tm_delete":
        return format_timestamp(value)  # None (not deleted) is the sentinel, not null
    return to_wire(value)


def to_wire(value: Any) -> Any:
    """A stored value as JSON: ids as strings, times as wire timestamps, values as objects."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, AddressValue | PlanValue):
        return value.as_dict()
    if isinstance(value, Mapping):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


# -- dials -----------------------------------------------------------------------------


class Dial(BaseModel):
    """One attempt to reach one destination of a target."""

    id: UUID
    outdial_id: UUID
    outdial_target_id: UUID
    destination_index: int = Field(ge=0, lt=DESTINATION_SLOTS)
    destination: Address
    try_count: int
    reference_id: str = Field(description='"" when none')
    status: Literal["progressing", "done"]
    result: Literal["", "success", "fail"]
    reason: str
    plan: Plan
    tm_start: Timestamp
    tm_end: Timestamp | None = Field(description="null while progressing")
    duration_ms: int | None = Field(description="null while progressing")


class DialList(BaseModel):
    result: list[Dial]
    next_page_token: str = Field(description='"" when there is no further page')


class DispatchRequest(BaseModel):
    model_config = STRICT_BODY

    plan: PlanChanges | None = None
    limit: int = Field(ge=1, le=LIMIT_MAX, description="How many targets to claim at most.")

    def plan_changes(self) -> dict[str, int]:
        return self.plan.changes() if self.plan else {}


class DispatchResult(BaseModel):
    result: list[Dial]


class DialStart(BaseModel):
    model_config = STRICT_BODY

    plan: PlanChanges | None = None
    destination_index: int | None = Field(
        default=None,
        ge=0,
        lt=DESTINATION_SLOTS,
        description="Default: the next destination in order.",
    )
    reference_id: str = Field(default="", max_length=REFERENCE_ID_MAX)

    def plan_changes(self) -> dict[str, int]:
        return self.plan.changes() if self.plan else {}


class DialFinish(BaseModel):
    model_config = STRICT_BODY

    result: DialResult
    reason: str = Field(
        default="", description="Free text such as normal, busy, noanswer; cut to 64 characters."
    )


def dial_wire(
    dial: DialMemory, *, customer_id: UUID, outdial_id: UUID, target_id: UUID
) -> dict[str, Any]:
    row = dial_row(dial, customer_id=customer_id, outdial_id=outdial_id, target_id=target_id)
    return wire(row, DIAL_FIELDS)


# -- history ---------------------------------------------------------------------------


class Event(BaseModel):
    version: int = Field(ge=1)
    type: Literal["Created", "DialStarted", "DialFinished", "Deleted"]
    timestamp: Timestamp
    data: dict[str, Any]


class EventList(BaseModel):
    result: list[Event]


class ReplayItem(BaseModel):
    event: Event
    state: Target = Field(description="The target after the event.")
    changes: dict[str, tuple[Any, Any]] = Field(
        description="The fields the event changed: [old, new]; old is null for Created."
    )


class Replay(BaseModel):
    result: list[ReplayItem]


def event_wire(record: EventRecord) -> dict[str, Any]:
    return {
        "version": record.version,
        "type": record.type,
        "timestamp": format_timestamp(record.timestamp),
        "data": to_wire(record.data),
    }


def replay_wire(steps: list[ReplayStep]) -> list[dict[str, Any]]:
    return [
        {
            "event": event_wire(step.event),
            "state": record_wire(step.state),
            "changes": {
                # Before Created there was no target, so its old values are null, not defaults.
                field: [None if n == 0 else field_wire(field, old), field_wire(field, new)]
                for field, (old, new) in step.changes.items()
            },
        }
        for n, step in enumerate(steps)
    ]


# -- operations and errors -------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    position: int | None = Field(description="The last event the read model has applied.")
    lag: int = Field(description="Events recorded but not yet in the read model.")


ErrorStatus = Literal[
    "INVALID_ARGUMENT",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "NOT_FOUND",
    "FAILED_PRECONDITION",
    "ABORTED",
    "PAYLOAD_TOO_LARGE",
    "RESOURCE_EXHAUSTED",
    "INTERNAL",
    "UNAVAILABLE",
]


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    status: ErrorStatus
    reason: str = Field(description="A stable UPPER_SNAKE code.", examples=["OUTDIAL_NOT_FOUND"])
    message: str
    request_id: str
    details: list[FieldProblem] | None = Field(
        default=None, description="The fields a request got wrong, when it is a validation failure."
    )


class ErrorResponse(BaseModel):
    error: ErrorBody
