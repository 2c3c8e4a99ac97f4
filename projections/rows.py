"""The read-model rows an aggregate's state should have: what verify expects, and what a
write answers (so a write's answer is exactly what the next read shows)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from domain.outdial import Outdial
from domain.plan import DESTINATION_SLOTS
from domain.target import Dial, Target
from domain.timeline import format_timestamp
from projections.readmodel import Row, to_json


def outdial_row(outdial: Outdial) -> Row:
    return {
        "id": str(outdial.id),
        "customer_id": str(outdial.customer_id),
        "campaign_id": str(outdial.campaign_id),
        "name": outdial.name,
        "detail": outdial.detail,
        "data": outdial.data,
        "plan": to_json(outdial.plan),
        "tm_create": format_timestamp(outdial.created_on),
        "tm_update": format_timestamp(outdial.modified_on),
        "tm_delete": format_timestamp(outdial.deleted_at),
        "version": outdial.version,
    }


def target_row(target: Target) -> Row:
    row: Row = {
        "id": str(target.id),
        "customer_id": str(target.customer_id),
        "outdial_id": str(target.outdial_id),
        "name": target.name,
        "detail": target.detail,
        "data": target.data,
        "status": target.status,
        "tm_create": format_timestamp(target.created_on),
        "tm_update": format_timestamp(target.modified_on),
        "tm_delete": format_timestamp(target.deleted_at),
        "version": target.version,
        "dial_in_flight": None if target.dial_in_flight is None else str(target.dial_in_flight),
        "last_dial_end": (
            None
            if target.last_dial_ended_at is None
            else format_timestamp(target.last_dial_ended_at)
        ),
        "succeeded": int(target.succeeded),
    }
    for n in range(DESTINATION_SLOTS):
        row[f"destination_{n}"] = to_json(target.destinations[n])
        row[f"try_count_{n}"] = target.try_counts[n]
    return row


def dial_row(dial: Dial, *, customer_id: UUID, outdial_id: UUID, target_id: UUID) -> Row:
    ended = dial.ended_at
    return {
        "id": str(dial.id),
        "customer_id": str(customer_id),
        "outdial_id": str(outdial_id),
        "outdial_target_id": str(target_id),
        "destination_index": dial.destination_index,
        "destination": to_json(dial.destination),
        "destination_target": dial.destination.target,
        "try_count": dial.try_count,
        "reference_id": dial.reference_id,
        "status": "progressing" if ended is None else "done",
        "result": dial.result,
        "reason": dial.reason,
        "plan": to_json(dial.plan),
        "tm_start": format_timestamp(dial.started_at),
        "tm_end": None if ended is None else format_timestamp(ended),
        "duration_ms": None
        if ended is None
        else (ended - dial.started_at) // timedelta(milliseconds=1),
        "timeout_at": format_timestamp(
            dial.started_at + timedelta(milliseconds=dial.plan.dial_timeout)
        ),
        "timed_out": int(dial.timed_out),
        "late": int(dial.late),
    }
