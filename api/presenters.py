"""Aggregates, read-model rows and history turned into wire objects: the one place.

A write answers from the aggregate it changed; a read answers from the read model's row.
Both go through here, in the field order of the response schemas, so that what a write
answers is exactly what the next read shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from api.schemas.dials import DialOut
from api.schemas.do_not_call import DoNotCallEntryOut
from api.schemas.erasures import ErasureOut
from api.schemas.outdials import OutdialOut
from api.schemas.targets import TargetOut
from application.feed import FeedEvent, FeedPage
from application.history import EventRecord
from application.webhooks import Delivery, Webhook
from domain.address import Address
from domain.availability import Availability
from domain.calling_window import CallingWindow
from domain.do_not_call import DoNotCallEntry
from domain.erasure import Erasure
from domain.outdial import Outdial
from domain.plan import DESTINATION_SLOTS, Plan
from domain.retry_rules import Decision
from domain.target import Dial, Target
from domain.timeline import format_timestamp
from projections.paging import Page
from projections.schema import Row

Wire = dict[str, Any]

OUTDIAL_FIELDS = tuple(OutdialOut.model_fields)
TARGET_FIELDS = tuple(TargetOut.model_fields)
DIAL_FIELDS = tuple(DialOut.model_fields)
DO_NOT_CALL_FIELDS = tuple(DoNotCallEntryOut.model_fields)
ERASURE_FIELDS = tuple(ErasureOut.model_fields)


# -- from aggregates (what a write answers) -------------------------------------------


def outdial(aggregate: Outdial) -> Wire:
    return {
        "id": str(aggregate.id),
        "customer_id": str(aggregate.customer_id),
        "campaign_id": str(aggregate.campaign_id),
        "name": aggregate.name,
        "detail": aggregate.detail,
        "data": aggregate.data,
        "plan": aggregate.plan.as_dict(),
        "status": aggregate.status,
        "calling_window": None
        if aggregate.calling_window is None
        else aggregate.calling_window.as_dict(),
        "tm_create": format_timestamp(aggregate.created_on),
        "tm_update": format_timestamp(aggregate.modified_on),
        "tm_delete": format_timestamp(aggregate.deleted_at),
    }


def target(aggregate: Target) -> Wire:
    wired: Wire = {
        "id": str(aggregate.id),
        "outdial_id": str(aggregate.outdial_id),
        "name": aggregate.name,
        "detail": aggregate.detail,
        "data": aggregate.data,
        "status": aggregate.status,
    }
    for n in range(DESTINATION_SLOTS):
        address = aggregate.destinations[n]
        wired[f"destination_{n}"] = None if address is None else address.as_dict()
    for n in range(DESTINATION_SLOTS):
        wired[f"try_count_{n}"] = aggregate.try_counts[n]
    wired["tm_create"] = format_timestamp(aggregate.created_on)
    wired["tm_update"] = format_timestamp(aggregate.modified_on)
    wired["tm_delete"] = format_timestamp(aggregate.deleted_at)
    return wired


def dial(started: Dial, *, outdial_id: UUID, target_id: UUID) -> Wire:
    ended = started.ended_at
    return {
        "id": str(started.id),
        "outdial_id": str(outdial_id),
        "outdial_target_id": str(target_id),
        "destination_index": started.destination_index,
        "destination": started.destination.as_dict(),
        "try_count": started.try_count,
        "reference_id": started.reference_id,
        "status": "progressing" if ended is None else "done",
        "result": started.result,
        "reason": started.reason,
        "plan": started.plan.as_dict(),
        "time_zones": list(started.time_zones),
        "tm_start": format_timestamp(started.started_at),
        "tm_end": None if ended is None else format_timestamp(ended),
        "duration_ms": None
        if ended is None
        else (ended - started.started_at) // timedelta(milliseconds=1),
        "actor": started.actor,
        "manual": started.manual,
    }


def availability(judged: Availability, plan: Plan) -> Wire:
    return {
        "available": judged.available,
        "next_destination": judged.next_destination,
        "ready_at": None if judged.ready_at is None else format_timestamp(judged.ready_at),
        "blocked_by": [
            {"rule": b.rule, "message": b.message, "entries": [str(e) for e in b.entries]}
            if b.rule == "ON_DO_NOT_CALL"
            else {"rule": b.rule, "message": b.message}
            for b in judged.blocked_by
        ],
        "plan": plan.as_dict(),
    }


def do_not_call(entry: DoNotCallEntry) -> Wire:
    return {
        "id": str(entry.id),
        "target": entry.target,
        "match": entry.match,
        "outdial_id": str(entry.outdial_id),
        "reason": entry.reason,
        "expires_at": None if entry.expires_at is None else format_timestamp(entry.expires_at),
        "actor": entry.actor,
        "tm_create": format_timestamp(entry.created_on),
        "tm_update": format_timestamp(entry.modified_on),
        "tm_delete": format_timestamp(entry.removed_at),
    }


def erasure(recorded: Erasure) -> Wire:
    return {
        "id": str(recorded.id),
        "target_ids": [str(i) for i in recorded.target_ids],
        "outdial_id": str(recorded.outdial_id),
        "count": recorded.count,
        "reason": recorded.reason,
        "actor": recorded.actor,
        "tm_create": format_timestamp(recorded.created_on),
    }


# -- from read-model rows (what a read answers) ----------------------------------------


def erasure_row(row: Row) -> Wire:
    return _pick(row, ERASURE_FIELDS)


def outdial_row(row: Row) -> Wire:
    return _pick(row, OUTDIAL_FIELDS)


def target_row(row: Row) -> Wire:
    return _pick(row, TARGET_FIELDS)


def dial_row(row: Row) -> Wire:
    return _pick(row, DIAL_FIELDS)


def do_not_call_row(row: Row) -> Wire:
    return _pick(row, DO_NOT_CALL_FIELDS)


def _pick(row: Row, fields: tuple[str, ...]) -> Wire:
    return {field: row[field] for field in fields}


def page(found: Page, present: Callable[[Row], Wire]) -> Wire:
    """The list envelope of a page of rows."""
    return {
        "result": [present(row) for row in found.rows],
        "next_page_token": found.next_page_token,
    }


def results(items: Iterable[Wire]) -> Wire:
    """The envelope of a list that is never paged (a batch, a dispatch, history)."""
    return {"result": list(items)}


# -- history ---------------------------------------------------------------------------


def event(record: EventRecord) -> Wire:
    wired = {
        "version": record.version,
        "type": record.type,
        "timestamp": format_timestamp(record.timestamp),
        "data": to_wire(record.data),
    }
    if record.erased:
        wired["erased"] = True
    return wired


def events(records: Iterable[EventRecord]) -> list[Wire]:
    return [event(record) for record in records]


# What an event can change of a target after its Created, in the order of the state:
# status, try counts and times. The rest is the target's own and is only compared.
_TRY_COUNT_FIELDS = tuple(f"try_count_{n}" for n in range(DESTINATION_SLOTS))
_MOVED_FIELDS = ("status", *_TRY_COUNT_FIELDS, "tm_update", "tm_delete")


def replay(steps: Iterable[tuple[EventRecord, Target]]) -> list[Wire]:
    """Each event, the target's state after it, the fields it changed ([old, new]) and,
    for a DialFinished a retry rule decided, that rule (else ``rule`` is null).

    Before Created there was no target, so its old values are null, not defaults.

    Each state is ``target(after)``, built from the state before it: only status, try
    counts and times are read again while the target's own values (ids, name, detail,
    data, destinations, creation time) equal the ones the state before was made from, so
    the states share those values' wire forms; once they differ (no event of today
    changes them), the state is made whole again.
    """
    items: list[Wire] = []
    before: Wire | None = None
    own: tuple[Any, ...] = ()
    deleted_at: datetime | None = None
    for record, after in steps:
        wired = event(record)
        now_own = (
            after.id,
            after.outdial_id,
            after.name,
            after.detail,
            after.data,
            after.created_on,
            *after.destinations,
        )
        if before is None or now_own != own:
            state = target(after)
            changes = _changes(before, state, state)
        else:
            state = before.copy()
            state["status"] = after.status
            try_counts = after.try_counts
            for n, field in enumerate(_TRY_COUNT_FIELDS):
                state[field] = try_counts[n]
            modified_on = after.modified_on
            state["tm_update"] = (
                wired["timestamp"]
                if modified_on is record.timestamp
                else format_timestamp(modified_on)
            )
            if after.deleted_at is not deleted_at:
                state["tm_delete"] = format_timestamp(after.deleted_at)
            changes = _changes(before, state, _MOVED_FIELDS)
        items.append(
            {
                "event": wired,
                "state": state,
                "changes": changes,
                "rule": _rule_of(record, after),
            }
        )
        before, own, deleted_at = state, now_own, after.deleted_at
    return items


def _changes(before: Wire | None, after: Wire, fields: Iterable[str]) -> Wire:
    """The fields among ``fields`` whose value differs, in that order, as [old, new]."""
    if before is None:
        return {field: [None, after[field]] for field in fields}
    return {
        field: [before[field], after[field]] for field in fields if before[field] != after[field]
    }


def _rule_of(record: EventRecord, after: Target) -> Wire | None:
    """The rule that decided a DialFinished, read from the target just after it (its
    dial's latest finish is this one), with what the domain says of the decision."""
    if record.type != "DialFinished":
        return None
    decision = after.decision_of(record.data["dial_id"])
    return None if decision is None else decided(decision)


def decided(decision: Decision) -> Wire:
    """A rule's decision on the wire: the rule, and ``said`` as people read it."""
    return {**decision.rule.as_dict(), "said": decision.describe()}


def to_wire(value: Any) -> Any:
    """A stored value as JSON: ids as strings, times as wire timestamps, values as objects."""
    # The exact types first, each to what the checks below make of it; then the checks,
    # for anything else (a subclass).
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is UUID:
        return str(value)
    if kind is dict:
        return {str(k): to_wire(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [to_wire(v) for v in value]
    if kind in _VALUES:
        return value.as_dict()
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, _VALUES):
        return value.as_dict()
    return value


# Values that are their own wire form (bool too, as an int would be), and value objects.
_AS_IS = frozenset({str, int, bool, float, type(None)})
_VALUES = (Address, Plan, CallingWindow)


# -- the event feed --------------------------------------------------------------------


def feed_event(event: FeedEvent) -> Wire:
    record = event.record
    data = to_wire(record.data)
    actor = data.pop("actor", "")
    return {
        "position": event.position,
        "aggregate": event.owner.aggregate,
        "aggregate_id": str(event.aggregate_id),
        "outdial_id": None if event.owner.outdial_id is None else str(event.owner.outdial_id),
        "version": record.version,
        "type": event.type,
        "timestamp": format_timestamp(record.timestamp),
        "actor": actor,
        "data": data,
        **({"erased": True} if record.erased else {}),
    }


def feed_page(found: FeedPage) -> Wire:
    return {"result": [feed_event(e) for e in found.events], "next_after": found.next_after}


def webhook(hook: Webhook, *, now: float, secret: bool = False) -> Wire:
    return {
        "url": hook.url,
        "types": None if hook.types is None else sorted(hook.types),
        "outdial_id": None if hook.outdial_id is None else str(hook.outdial_id),
        "secret": hook.secret if secret else None,
        "status": hook.status(now),
        "position": hook.position,
    }


def delivery(attempt: Delivery) -> Wire:
    return {
        "id": attempt.id,
        "tm_attempt": format_timestamp(attempt.tm_attempt),
        "from_position": attempt.from_position,
        "to_position": attempt.to_position,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
    }
