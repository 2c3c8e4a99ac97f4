"""The do-not-call list: numbers and addresses the customer's outdials must not dial."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import (
    BODY,
    NEXT_PAGE_TOKEN,
    DeletedAt,
    Timestamp,
    parse_time,
)
from application.service import BATCH_MAX, NewEntry
from domain.address import ADDRESS_FIELD_MAX
from domain.do_not_call import EVERY_OUTDIAL, Match
from domain.text import NAME_MAX

ENTRY_TARGET = (
    "An E.164 number (+821100000001), or another address's `target` (a SIP address, an "
    "e-mail) with `match` exact; a prefix is a + and 3 to 15 digits (+1212)."
)
SCOPE = f"The outdial it applies to; {EVERY_OUTDIAL}: every outdial of the customer."


class DoNotCallEntryOut(BaseModel):
    """One entry of the customer's do-not-call list."""

    id: UUID
    target: str = Field(description=ENTRY_TARGET, examples=["+821100000001"])
    match: Match = Field(description="exact: this target only; prefix: every number so starting")
    outdial_id: UUID = Field(description=SCOPE)
    reason: str
    expires_at: Timestamp | None = Field(description="null: it never expires")
    actor: str = Field(description="who last added, changed or removed it: a key id (`kid_...`)")
    tm_create: Timestamp
    tm_update: Timestamp
    tm_delete: DeletedAt


class DoNotCallPage(BaseModel):
    result: list[DoNotCallEntryOut]
    next_page_token: str = NEXT_PAGE_TOKEN


class DoNotCallEntryIn(BaseModel):
    """An entry to add; one with the same `target`, `match` and `outdial_id` is that entry,
    whose `reason` and `expires_at` change to what is sent (fields left out keep theirs)."""

    model_config = BODY

    target: str = Field(
        max_length=ADDRESS_FIELD_MAX, description=ENTRY_TARGET, examples=["+821100000001"]
    )
    match: Match = "exact"
    outdial_id: UUID = Field(default=EVERY_OUTDIAL, description=SCOPE)
    reason: str | None = Field(
        default=None,
        max_length=NAME_MAX,
        description='Why, for the audit; null is read as "", left out keeps the reason an '
        'existing entry has ("" for a new one).',
    )
    expires_at: str | None = Field(
        default=None,
        description="A future time (2027-01-01 00:00:00.000000 or ISO 8601; UTC without a "
        "zone); null: never. Left out keeps the expiry an existing entry has (never for a "
        "new one).",
    )

    def new_entry(self, field_prefix: str) -> NewEntry:
        """The application's command; a bad time names ``<prefix>expires_at``."""
        given = self.model_fields_set
        expires_at = None
        if self.expires_at is not None:
            expires_at = parse_time(self.expires_at, f"{field_prefix}expires_at")
        return NewEntry(
            target=self.target,
            match=self.match,
            outdial_id=self.outdial_id,
            reason=(self.reason or "") if "reason" in given else None,
            expires_at=expires_at,
            keep_expiry="expires_at" not in given,
        )


class DoNotCallBatchIn(BaseModel):
    model_config = BODY

    entries: list[DoNotCallEntryIn] = Field(min_length=1, max_length=BATCH_MAX)

    def new_entries(self) -> list[NewEntry]:
        return [entry.new_entry(f"entries[{n}].") for n, entry in enumerate(self.entries)]


class DoNotCallBatchOut(BaseModel):
    result: list[DoNotCallEntryOut]
