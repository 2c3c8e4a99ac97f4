"""The domain's value objects on the wire: addresses (destinations) and dial plans."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from api.schemas.common import BODY, STRICT_BODY, WholeNumber
from domain.address import ADDRESS_FIELD_MAX, ADDRESS_TYPES, Address
from domain.plan import (
    DIAL_TIMEOUT_MAX_MS,
    DIAL_TIMEOUT_MIN_MS,
    MAX_TRY_COUNT_LIMIT,
    TRY_INTERVAL_MAX_MS,
)
from domain.retry_rules import RETRY_RULES_MAX, RULE_REASON_MAX, Action

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


RULES_SAID = (
    'What a failed dial\'s reason does, first match wins (case-insensitive; "*" matches '
    "any); no match or no rules: retry after try_interval. In a request's plan, left out: "
    "the outdial's; [] none."
)


class RetryRuleOut(BaseModel):
    """A failed dial's reason and what it does to the target."""

    reason: str = Field(examples=["busy"])
    action: Action
    retry_interval: TryInterval | None = Field(
        default=None, description="ms; only with retry; left out: the plan's try_interval"
    )


class RetryRuleIn(RetryRuleOut):
    model_config = STRICT_BODY

    reason: str = Field(
        min_length=1, max_length=RULE_REASON_MAX, examples=["busy"], description='or "*"'
    )


class PlanOut(BaseModel):
    """How targets are dialed: tries per destination, ms between dials, ms until timeout,
    and what a failed dial's reason does."""

    max_try_count_0: TryCount
    max_try_count_1: TryCount
    max_try_count_2: TryCount
    max_try_count_3: TryCount
    max_try_count_4: TryCount
    try_interval: TryInterval
    dial_timeout: DialTimeout
    retry_rules: list[RetryRuleOut] = Field(description=RULES_SAID)


class TryPlanQuery(BaseModel):
    """Plan fields that decide whether a target is available; left out: the outdial's."""

    max_try_count_0: Annotated[TryCount | None, WholeNumber] = None
    max_try_count_1: Annotated[TryCount | None, WholeNumber] = None
    max_try_count_2: Annotated[TryCount | None, WholeNumber] = None
    max_try_count_3: Annotated[TryCount | None, WholeNumber] = None
    max_try_count_4: Annotated[TryCount | None, WholeNumber] = None
    try_interval: Annotated[TryInterval | None, WholeNumber] = None

    def changes(self) -> dict[str, Any]:
        changed: dict[str, Any] = self.model_dump(exclude_none=True)
        return changed


class PlanChangesIn(TryPlanQuery):
    """Plan fields to change; fields left out keep the outdial's value."""

    model_config = STRICT_BODY

    dial_timeout: DialTimeout | None = None
    retry_rules: list[RetryRuleIn] | None = Field(
        default=None, max_length=RETRY_RULES_MAX, description=RULES_SAID
    )
