"""Target events → ``targets`` and ``dials`` rows.

This is the read model's own interpretation of the four target events; ``verify``
holds it against the domain's replay, field by field.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from domain.address import Address
from domain.calling_window import NUMBER_TYPES, number_time_zones, zone_key
from domain.plan import DESTINATION_SLOTS, Plan
from domain.target import Target
from domain.timeline import NOT_DELETED, format_timestamp, parse_timestamp
from projections.rows import ChangedRows
from projections.schema import (
    DESTINATIONS,
    DIALS,
    TARGET_ADDRESSES,
    TARGETS,
    TRY_COUNTS,
    ZONE_SETS,
    Row,
    decode_row,
    to_json,
    zones_json,
)


def target_created(rows: ChangedRows, event: Target.Created) -> None:
    row = created_row(event)
    rows.insert(TARGETS, row)
    _add_zone_sets(rows, [row])
    _add_addresses(rows, [row])


def targets_created(rows: ChangedRows, events: Sequence[Target.Created]) -> None:
    """A run of new targets (an import's batch) as one statement: the same rows as
    ``target_created`` makes of each, without holding them in the transaction."""
    made = [created_row(event) for event in events]
    rows.insert_many(TARGETS, made)
    _add_zone_sets(rows, made)
    _add_addresses(rows, made)


def _add_addresses(rows: ChangedRows, made: Sequence[Row]) -> None:
    for row in made:
        for address in addresses_of(row):
            rows.insert_absent(TARGET_ADDRESSES, {"address": address, "target_id": row["id"]})


def addresses_of(row: Row) -> set[str]:
    """The target strings of a target's row's destinations (an erased one's are "")."""
    return {a for n in range(DESTINATION_SLOTS) if (a := row[f"address_{n}"])}


def _add_zone_sets(rows: ChangedRows, made: Sequence[Row]) -> None:
    """The outdials' zone sets gain the keys of these new rows they lack."""
    for outdial_id, key, first in {member for row in made for member in zone_set_members(row)}:
        rows.insert_absent(ZONE_SETS, {"outdial_id": outdial_id, "zones": key, "first": first})


def zone_set_members(row: Row) -> set[tuple[str, str, int]]:
    """(outdial, zone key, first) of each destination a target's row has: 1 for its first
    destination's key, 0 for a later one's."""
    return {
        (row["outdial_id"], row[f"zones_{n}"], int(n == 0))
        for n in range(DESTINATION_SLOTS)
        if row[f"zones_{n}"] is not None
    }


def address_of(destination: Address | None) -> str | None:
    """What the do-not-call list matches of a destination: its target string."""
    return None if destination is None else destination.target


def zones_of(destination: Address | None) -> str | None:
    """A destination's time zones as one key: a number's own zones, or "" when it is judged
    in the calling window's own zone (no number, or a number in no zone); None when the
    slot is unset."""
    if destination is None:
        return None
    if destination.type not in NUMBER_TYPES:
        return ""
    given = _GIVEN_ZONE_KEYS.pop(destination.target, None)
    return given if given is not None else _zone_key_of(destination.target)


def _zone_key_of(number: str) -> str:
    return zone_key(number_time_zones(number))


# Zone keys of numbers worked out by another process, each taken once by ``zones_of``: an
# import works out those of its new targets on its own core and hands them to its
# projection process, whose core is the busier one (api/workers/import_projection.py).
_GIVEN_ZONE_KEYS: dict[str, str] = {}
# Kept at most (dropped all at once past it: keys nobody takes, as when another process
# projects the import's events, must not pile up).
GIVEN_ZONE_KEYS_MAX = 100_000


def zone_keys_of(events: Sequence[Any]) -> dict[str, str]:
    """The zone key ``zones_of`` gives each number of these events' new targets."""
    return {
        destination.target: _zone_key_of(destination.target)
        for event in events
        if isinstance(event, Target.Created)
        for destination in event.destinations
        if destination is not None and destination.type in NUMBER_TYPES
    }


def given_zone_keys(keys: dict[str, str]) -> None:
    """Zone keys ``zone_keys_of`` worked out elsewhere: ``zones_of`` takes them as its own."""
    if len(_GIVEN_ZONE_KEYS) + len(keys) > GIVEN_ZONE_KEYS_MAX:
        _GIVEN_ZONE_KEYS.clear()
    _GIVEN_ZONE_KEYS.update(keys)


def created_row(event: Target.Created) -> Row:
    """The row of a new target: every column of ``targets``."""
    stamp = format_timestamp(event.timestamp)
    destinations = event.destinations
    return {
        "id": str(event.originator_id),
        "outdial_id": str(event.outdial_id),
        "name": event.name,
        "detail": event.detail,
        "data": event.data,
        "status": "idle",
        "destination_0": to_json(destinations[0]),
        "destination_1": to_json(destinations[1]),
        "destination_2": to_json(destinations[2]),
        "destination_3": to_json(destinations[3]),
        "destination_4": to_json(destinations[4]),
        "try_count_0": 0,
        "try_count_1": 0,
        "try_count_2": 0,
        "try_count_3": 0,
        "try_count_4": 0,
        "tm_create": stamp,
        "tm_update": stamp,
        "tm_delete": NOT_DELETED,
        "customer_id": str(event.customer_id),
        "version": event.originator_version,
        "dial_in_flight": None,
        "last_dial_end": None,
        "succeeded": 0,
        "address_0": address_of(destinations[0]),
        "address_1": address_of(destinations[1]),
        "address_2": address_of(destinations[2]),
        "address_3": address_of(destinations[3]),
        "address_4": address_of(destinations[4]),
        "zones_0": zones_of(destinations[0]),
        "zones_1": zones_of(destinations[1]),
        "zones_2": zones_of(destinations[2]),
        "zones_3": zones_of(destinations[3]),
        "zones_4": zones_of(destinations[4]),
        "closed": 0,
        "finished": 0,
        "retry_at": None,
    }


def dial_started(rows: ChangedRows, event: Target.DialStarted) -> None:
    target = _target(rows, event)
    _touch(
        rows,
        event,
        {
            f"try_count_{event.destination_index}": event.try_count,
            "status": "progressing",
            "dial_in_flight": str(event.dial_id),
        },
    )
    timeout_at = event.timestamp + timedelta(milliseconds=event.plan.dial_timeout)
    rows.insert(
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
            "actor": event.actor,
            "manual": int(event.manual),
            "time_zones": zones_json(event.time_zones),
        },
    )


def dial_finished(rows: ChangedRows, event: Target.DialFinished) -> None:
    target = _target(rows, event)
    dial = rows.get(DIALS, str(event.dial_id))
    if dial is None:
        msg = f"dial {event.dial_id} of target {event.originator_id} has no row"
        raise LookupError(msg)
    succeeded = bool(target["succeeded"]) or event.result == "success"
    plan = Plan.from_dict(decode_row({"plan": dial["plan"]})["plan"])
    rule = plan.rule_for(event.result, event.reason)
    closed, finished = target["closed"], bool(target["finished"])
    if rule is not None and rule.closes_destination:
        closed |= 1 << dial["destination_index"]
    finished = finished or (rule is not None and rule.finishes)
    dial_changes: dict[str, Any] = {"result": event.result, "reason": event.reason}
    target_changes: dict[str, Any] = {
        "succeeded": int(succeeded),
        "closed": closed,
        "finished": int(finished),
    }
    exhausted = _exhausted(target, plan, closed)
    if event.late:
        # The caller's finish after the service timed the dial out: the dial ended then,
        # and the wait began; of its rule only what closes or finishes counts now.
        dial_changes["late"] = 1
        if succeeded or finished or (target["status"] == "idle" and exhausted):
            target_changes["status"] = "done"
    else:
        end = format_timestamp(event.timestamp)
        dial_changes.update(
            status="done",
            tm_end=end,
            duration_ms=(event.timestamp - parse_timestamp(dial["tm_start"]))
            // timedelta(milliseconds=1),
            timed_out=int(event.timed_out),
        )
        interval = None if rule is None else rule.retry_interval
        target_changes.update(
            dial_in_flight=None,
            last_dial_end=end,
            retry_at=None
            if interval is None
            else format_timestamp(event.timestamp + timedelta(milliseconds=interval)),
            status="done" if succeeded or finished or exhausted else "idle",
        )
    rows.update(DIALS, dial["id"], dial_changes)
    _touch(rows, event, target_changes)


def target_deleted(rows: ChangedRows, event: Target.Deleted) -> None:
    # Nothing of the row decides what a deletion writes: it is not read (an erasure of a
    # whole outdial deletes thousands at once).
    stamp = format_timestamp(event.timestamp)
    changes = {"tm_delete": stamp, "tm_update": stamp, "version": event.originator_version}
    rows.change(TARGETS, str(event.originator_id), changes)


def _target(rows: ChangedRows, event: Target.Event) -> Row:
    target = rows.get(TARGETS, str(event.originator_id))
    if target is None:
        msg = f"target {event.originator_id} has no row"
        raise LookupError(msg)
    return target


def _touch(rows: ChangedRows, event: Target.Event, changes: dict[str, Any]) -> None:
    """Every target event changes some fields, ``tm_update`` and the version."""
    changes.update(tm_update=format_timestamp(event.timestamp), version=event.originator_version)
    rows.update(TARGETS, str(event.originator_id), changes)


def _exhausted(target: Row, plan: Plan, closed: int) -> bool:
    """No destination is eligible any more under the plan the finished dial ran under,
    with the destinations ``closed`` (a bit each) that its rule may just have closed.

    The target row is as it was before this event; a finish changes no try count.
    """
    stored = decode_row({d: target[d] for d in DESTINATIONS})
    destinations = [None if stored[d] is None else Address(**stored[d]) for d in DESTINATIONS]
    try_counts = [target[column] for column in TRY_COUNTS]
    shut = {n for n in range(DESTINATION_SLOTS) if closed >> n & 1}
    return plan.next_destination(destinations, try_counts, shut) is None
