"""Erasure events → ``erasures`` rows, and the erased targets' rows blanked.

An erased target's rows read as a replay of its events without its key reads: its
name, detail and data "", each destination its type alone, each dial's destination
likewise; status, try counts and times as they were. Its addresses leave
``target_addresses`` (an erasure by address no longer finds it). The zone sets keep what
they had (a key no target has now costs the available query nothing; verify allows it).
The view is told the erasure (``ReadModelView.on_erasure``) so that the keys go too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from domain.address import Address
from domain.erasure import NO_OUTDIAL, Erasure
from domain.plan import DESTINATION_SLOTS
from domain.timeline import format_timestamp
from projections.rows import ChangedRows, Erased
from projections.schema import (
    DIALS,
    ERASED_TARGETS,
    ERASURES,
    TARGET_ADDRESSES,
    TARGETS,
    ZONE_SETS,
    Row,
    to_json,
)
from projections.targets import address_of, addresses_of, zone_set_members, zones_of

# Rows blanked per statement.
_BATCH = 500


def erasure_recorded(rows: ChangedRows, event: Erasure.Recorded) -> None:
    erasure_id = str(event.originator_id)
    rows.insert(ERASURES, erasure_row(event))
    for target_id in event.target_ids:
        rows.insert_absent(ERASED_TARGETS, {"erasure_id": erasure_id, "target_id": str(target_id)})
    whole = event.outdial_id != NO_OUTDIAL
    if whole:
        found = rows.select(
            f"SELECT id FROM {TARGETS} WHERE outdial_id = :outdial AND customer_id = :customer",
            {"outdial": str(event.outdial_id), "customer": str(event.customer_id)},
        )
        target_ids = [row["id"] for row in found]
    else:
        target_ids = [str(target_id) for target_id in event.target_ids]
    for start in range(0, len(target_ids), _BATCH):
        _blank_targets(rows, target_ids[start : start + _BATCH])
    rows.erased.append(
        Erased(
            customer_id=str(event.customer_id),
            target_ids=tuple(target_ids),
            outdial_id=str(event.outdial_id) if whole else None,
        )
    )


def erasure_row(event: Erasure.Recorded) -> Row:
    return {
        "id": str(event.originator_id),
        "customer_id": str(event.customer_id),
        "outdial_id": str(event.outdial_id),
        "target_ids": orjson.dumps([str(i) for i in event.target_ids]).decode(),
        "count": event.count,
        "reason": event.reason,
        "actor": event.actor,
        "tm_create": format_timestamp(event.timestamp),
    }


def blank_address(stored: Any) -> Address | None:
    """A stored destination (JSON) as erased: its type alone."""
    if stored is None:
        return None
    return Address(orjson.loads(stored)["type"], "")


def _in(ids: Sequence[str]) -> tuple[str, dict[str, str]]:
    marks = ", ".join(f":i{n}" for n in range(len(ids)))
    return marks, {f"i{n}": i for n, i in enumerate(ids)}


def _blank_targets(rows: ChangedRows, target_ids: Sequence[str]) -> None:
    marks, params = _in(target_ids)
    destinations = ", ".join(f"destination_{n}, address_{n}" for n in range(DESTINATION_SLOTS))
    found = rows.select(
        f"SELECT id, outdial_id, {destinations} FROM {TARGETS} WHERE id IN ({marks})", params
    )
    blanked: list[Row] = []
    gone: list[Row] = []
    for row in found:
        changes: Row = {"id": row["id"], "name": "", "detail": "", "data": ""}
        for n in range(DESTINATION_SLOTS):
            blank = blank_address(row[f"destination_{n}"])
            changes[f"destination_{n}"] = to_json(blank)
            changes[f"address_{n}"] = address_of(blank)
            changes[f"zones_{n}"] = zones_of(blank)
        gone += [{"address": a, "target_id": row["id"]} for a in addresses_of(row)]
        blanked.append(changes)
        for outdial_id, key, first in zone_set_members(
            {**changes, "outdial_id": row["outdial_id"]}
        ):
            rows.insert_absent(ZONE_SETS, {"outdial_id": outdial_id, "zones": key, "first": first})
    rows.update_rows(TARGETS, blanked)
    rows.execute_many(
        f"DELETE FROM {TARGET_ADDRESSES} WHERE address = :address AND target_id = :target_id",
        gone,
    )
    dials = rows.select(
        f"SELECT id, destination FROM {DIALS} WHERE outdial_target_id IN ({marks})", params
    )
    rows.update_rows(
        DIALS,
        [
            {
                "id": dial["id"],
                "destination": to_json(blank_address(dial["destination"])),
                "destination_target": "",
            }
            for dial in dials
        ],
    )
