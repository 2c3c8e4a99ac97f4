"""Shapes every resource shares: times, text fields, paging, path ids and the error envelope."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from domain.errors import InvalidValue
from domain.outdial import NO_CAMPAIGN
from domain.text import DATA_MAX, DETAIL_MAX, NAME_MAX, check_plain_text
from domain.timeline import NOT_DELETED, parse_timestamp
from projections.paging import PAGE_SIZE_MAX, clamp_page_size

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


def _plain(value: str) -> str:
    try:
        return check_plain_text("", value)
    except InvalidValue as error:
        raise ValueError(error.problem) from None


# A query filter: the same text rule as a body's string fields, so that every store
# answers a filter the same (PostgreSQL refuses NUL in a parameter).
PlainText = Annotated[str, AfterValidator(_plain)]

_WHOLE = re.compile(r"[+-]?[0-9]+")


def _whole_number_text(value: object) -> object:
    if isinstance(value, str) and not _WHOLE.fullmatch(value):
        raise ValueError("must be a whole number, such as 10")
    return value


# A whole number in a query: pydantic's lax mode would read the text "0.0" as 0.
WholeNumber = BeforeValidator(_whole_number_text)

NEXT_PAGE_TOKEN = Field(description='"" when there is no further page')

# Bodies are JSON: a number field takes a number, not true or "5". (Query parameters
# arrive as text, so their models stay lax; models with UUIDs stay lax, since strict
# UUIDs refuse the strings JSON carries them in.)
STRICT_BODY = ConfigDict(extra="forbid", strict=True)
BODY = ConfigDict(extra="forbid")


def _null_as_empty(value: object) -> object:
    return "" if value is None else value


def _as_data_text(value: object) -> object:
    """`data` is free text. VoIPbin's CLI sends `--data` parsed as JSON, so a JSON value
    other than a string is kept as its compact JSON text rather than refused."""
    if value is None or isinstance(value, str):
        return _null_as_empty(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _nullable_text(limit: int) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "string", "maxLength": limit}, {"type": "null"}],
            "description": 'null is read as "".',
        }
    )


Name = Annotated[
    str, BeforeValidator(_null_as_empty), Field(max_length=NAME_MAX), _nullable_text(NAME_MAX)
]
Detail = Annotated[
    str,
    BeforeValidator(_null_as_empty),
    Field(max_length=DETAIL_MAX),
    _nullable_text(DETAIL_MAX),
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

# -- path and query parameters ---------------------------------------------------------

OutdialId = Annotated[UUID, Path(description="The outdial's id.")]
TargetId = Annotated[UUID, Path(description="The outdial target's id.")]
DialId = Annotated[UUID, Path(description="The dial's id.")]


@dataclass(frozen=True)
class Paging:
    page_size: int
    page_token: str


async def paging(
    page_size: Annotated[
        int | None,
        WholeNumber,
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
    return Paging(page_size=clamp_page_size(page_size), page_token=page_token)


def parse_time(text: str, field: str) -> datetime:
    try:
        return parse_timestamp(text)
    except (ValueError, OverflowError):
        raise InvalidValue(field, "must be a time such as 2022-04-30 17:52:16.484341") from None


# -- errors ----------------------------------------------------------------------------

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
