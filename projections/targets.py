"""Target events → ``targets`` and ``dials`` rows.

This is the read model's own interpretation of the four target events; ``verify``
holds it against the domain's replay, field by field.
"""

from __future__ import annotations

from datetime import timedelta

from domain.address import Address
from domain.plan import DESTINATION_SLOTS, Plan
from domain.target import Target
from domain.timeline import NOT_DELETED, format_timestamp, parse_timestamp
from projections.readmodel import Row, Rows, from_json, to_json

TARGETS = "targets"
DIALS = "dials"


def target_created(rows: Rows, event: Target.Created) -> None:
    stamp = format_timestamp(event.timestamp)
    row: Row = {
        "id": str(event.originator_id),
        "customer_id": str(event.customer_id),
        "outdial_id": str(event.outdial_id),
        "name": event.name,
        "detail": event.detail,
        "data": event.data,
        "status": "idle",
        "tm_create": stamp,
        "tm_update": stamp,
        "tm_delete": NOT_DELETED,
        "version": event.originator_version,
        "dial_in_flight": None,
        "last_dial_end": None,
        "succeeded": 0,
    }
    for n in range(DESTINATION_SLOTS):
        row[f"destination_{n}"] = to_json(event.destinations[n])
        row[f"try_count_{n}"] = 0
    rows.put(TARGETS, row)


def dial_started(rows: Rows, event: Target.DialStarted) -> None:
    target = _target(rows, event)
    target[f"try_count_{event.destination_index}"] = event.try_count
    target["status"] = "progressing"
    target["dial_in_flight"] = str(event.dial_id)
    rows.put(TARGETS, _touched(target, event))
    timeout_at = event.timestamp + timedelta(milliseconds=event.plan.dial_timeout)
    rows.put(
        DIALS,
        {
            "id": str(event.dial_id),
            "customer_id": target["customer_id"],
            "outdial_id": target["outdial_id"],
            "outdial_target_id": target["id"],
            "destination_index": event.destination_index,
            "destination": to_json(event.destination),
            "destination_target": event.destination.target,
            "try_count": event.try_count,
            "reference_id": event.reference_id,
            "status": "progressing",
            "result": "",
            "reason": "",
            "plan": to_json(event.plan),
            "tm_start": format_timestamp(event.timestamp),
            "tm_end": None,
            "duration_ms": None,
            "timeout_at": format_timestamp(timeout_at),
            "timed_out": 0,
            "late": 0,
        },
    )


def dial_finished(rows: Rows, event: Target.DialFinished) -> None:
    target = _target(rows, event)
    dial = rows.get(DIALS, str(event.dial_id))
    if dial is None:
        msg = f"dial {event.dial_id} of target {event.originator_id} has no row"
        raise LookupError(msg)
    if event.result == "success":
        target["succeeded"] = 1
    dial["result"] = event.result
    dial["reason"] = event.reason
    if event.late:
        # The caller's finish after the service timed the dial out: the dial ended then.
        dial["late"] = 1
        if target["succeeded"]:
            target["status"] = "done"
    else:
        end = format_timestamp(event.timestamp)
        dial["status"] = "done"
        dial["tm_end"] = end
        dial["duration_ms"] = _milliseconds_between(dial["tm_start"], event)
        dial["timed_out"] = int(event.timed_out)
        target["dial_in_flight"] = None
        target["last_dial_end"] = end
        target["status"] = "done" if target["succeeded"] or _exhausted(target, dial) else "idle"
    rows.put(DIALS, dial)
    rows.put(TARGETS, _touched(target, event))


def target_deleted(rows: Rows, event: Target.Deleted) -> None:
    target = _target(rows, event)
    target["tm_delete"] = format_timestamp(event.timestamp)
    rows.put(TARGETS, _touched(target, event))


def _target(rows: Rows, event: Target.Event) -> Row:
    target = rows.get(TARGETS, str(event.originator_id))
    if target is None:
        msg = f"target {event.originator_id} has no row"
        raise LookupError(msg)
    return target


def _touched(target: Row, event: Target.Event) -> Row:
    target["tm_update"] = format_timestamp(event.timestamp)
    target["version"] = event.originator_version
    return target


def _exhausted(target: Row, dial: Row) -> bool:
    """No destination has tries left under the plan the finished dial ran under."""
    plan = Plan(**from_json(dial["plan"]))
    destinations = [
        None
        if target[f"destination_{n}"] is None
        else Address(**from_json(target[f"destination_{n}"]))
        for n in range(DESTINATION_SLOTS)
    ]
    try_counts = [target[f"try_count_{n}"] for n in range(DESTINATION_SLOTS)]
    return plan.next_destination(destinations, try_counts) is None


def _milliseconds_between(start: str, event: Target.DialFinished) -> int:
    return (event.timestamp - parse_timestamp(start)) // timedelta(milliseconds=1)
