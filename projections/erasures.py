"""Erasure events → ``erasures`` rows, and the erased targets' rows blanked.

An erased target's rows read as a replay of its events without its key reads: its
name, detail and data "", each destination its type alone, each dial's destination
likewise; status, try counts and times as they were. Its addresses leave
``target_addresses`` (an erasure by address no longer finds it). The zone sets keep what
they had (a key no target has now costs the available query nothing; verify allows it).
The view is told the erasure (``ReadModelView.on_erasure``) so that the keys go too.
"""

from __future__ import annotations

import orjson

from domain.erasure import NO_OUTDIAL, Erasure
from domain.plan import DESTINATION_SLOTS
from domain.timeline import NOT_DELETED, format_timestamp
from projections.rows import ChangedRows, Erased, in_list
from projections.schema import (
    DIALS,
    ERASED_TARGETS,
    ERASURES,
    LIVE_TARGET,
    TARGET_ADDRESSES,
    TARGETS,
    ZONE_SETS,
    Row,
)
from projections.targets import addresses_of

# Rows blanked per statement.
_BATCH = 500


def erasure_recorded(rows: ChangedRows, event: Erasure.Recorded) -> None:
    erasure_id = str(event.originator_id)
    rows.insert(ERASURES, erasure_row(event))
    for target_id in event.target_ids:
        rows.insert_absent(ERASED_TARGETS, {"erasure_id": erasure_id, "target_id": str(target_id)})
    whole = event.outdial_id != NO_OUTDIAL
    erased: list[str] = []
    if whole:  # every target of the outdial: a statement for them all
        scope = {"outdial": str(event.outdial_id), "customer": str(event.customer_id)}
        of_outdial = "outdial_id = :outdial AND customer_id = :customer"
        erased += _blank(rows, of_outdial, of_outdial, scope, whole=True)
    else:
        named = [str(target_id) for target_id in event.target_ids]
        for start in range(0, len(named), _BATCH):
            marks, params = in_list("i", named[start : start + _BATCH])
            erased += _blank(
                rows, f"id IN ({marks})", f"outdial_target_id IN ({marks})", params, whole=False
            )
    rows.erased.append(Erased(customer_id=str(event.customer_id), target_ids=tuple(erased)))


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


def _blank_json(rows: ChangedRows, column: str) -> str:
    """SQL of a stored destination (JSON text) as erased: its type alone."""
    fields = "'target', '', 'target_name', '', 'name', '', 'detail', ''"
    if rows.on_postgres:
        blank = f"json_build_object('type', ({column})::json->>'type', {fields})::text"
    else:
        blank = f"json_object('type', json_extract({column}, '$.type'), {fields})"
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {blank} END"


def _blank(
    rows: ChangedRows, where: str, dials_where: str, params: dict[str, str], *, whole: bool
) -> list[str]:
    """Blank the rows of the targets ``where`` says and of their dials (``dials_where``),
    a statement a table whatever their number; the targets' ids. An erased destination's
    address and zones are "" (``address_of`` and ``zones_of`` of a blank address of every
    type, tests/unit/test_erasure.py)."""
    slots = range(DESTINATION_SLOTS)
    # The Deleted events of a whole outdial's erasure come just before it, and the
    # deletions they hold unwritten are written by the statement that blanks the same
    # rows: each row is then written once, with the indexes of targets, rather than twice
    # (on PostgreSQL half of the erasure of 100,000 targets).
    deleting = rows.take_unread(TARGETS) if whole else {}
    # Their addresses too where each pair is deleted by key (a whole outdial's go by a
    # join), and a whole outdial's versions and deletions (_deleted_as_listed).
    listed = ", version, tm_delete" if whole else "".join(f", address_{n}" for n in slots)
    found = rows.select(f"SELECT id{listed} FROM {TARGETS} WHERE {where}", params)
    deleted = {row["id"]: deleting.pop(row["id"]) for row in found if row["id"] in deleting}
    at = _deleted_as_listed(found, deleted) if deleted else None
    if at is None:  # written as any change is, before the rows are blanked
        deleting.update(deleted)
    for row_id, changes in deleting.items():
        rows.change(TARGETS, row_id, changes)
    if not found:
        return []
    # A whole outdial's pairs are named by each target's own addresses. SQLite then finds
    # them by the table's key (by target id it scanned the whole table: 0.9 s of an
    # erasure at 1,000,000 targets). PostgreSQL's planner joins them by hashing, reading
    # the whole table once (about 0.2 s at 1,000,000 targets; lookups by key forced on it
    # saved about as much, not kept: benchmarks/findings.py).
    if whole and rows.on_postgres:  # a join: IN would be a subplan per row
        held = ", ".join(f"{TARGETS}.address_{n}" for n in slots)
        rows.execute(
            f"DELETE FROM {TARGET_ADDRESSES} USING {TARGETS} "
            f"WHERE {TARGET_ADDRESSES}.target_id = {TARGETS}.id "
            f"AND {TARGET_ADDRESSES}.address = ANY(ARRAY[{held}]) AND {where}",
            params,
        )
    elif whole:  # SQLite's planner scans for a row-value IN: the rows are named instead
        pairs = " UNION ALL ".join(
            f"SELECT a.rowid FROM {TARGETS} AS t CROSS JOIN {TARGET_ADDRESSES} AS a "
            f"ON a.address = t.address_{n} AND a.target_id = t.id WHERE {where}"
            for n in slots
        )
        rows.execute(f"DELETE FROM {TARGET_ADDRESSES} WHERE rowid IN ({pairs})", params)
    else:  # a handful of pairs, each found by the table's key
        rows.execute_many(
            f"DELETE FROM {TARGET_ADDRESSES} WHERE address = :address AND target_id = :target",
            [{"address": a, "target": row["id"]} for row in found for a in addresses_of(row)],
        )
    blank = _blanked_columns(rows)
    if at is None:
        rows.execute(f"UPDATE {TARGETS} SET {blank} WHERE {where}", params)
    else:  # the rows deleted before (if any), then the live ones, deleted as blanked
        if len(deleted) < len(found):
            rows.execute(
                f"UPDATE {TARGETS} SET {blank} WHERE {where} AND NOT ({LIVE_TARGET})", params
            )
        rows.execute(
            f"UPDATE {TARGETS} SET {blank}, tm_delete = :at, tm_update = :at, "
            f"version = version + 1 WHERE {where} AND {LIVE_TARGET}",
            {**params, "at": at},
        )
    rows.execute(
        f"UPDATE {DIALS} SET destination = {_blank_json(rows, 'destination')}, "
        f"destination_target = '' WHERE {dials_where}",
        params,
    )
    # The blank zone set of a first destination, and of the others, where they are held:
    # one pass over the rows for both.
    others = " OR ".join(f"destination_{n} IS NOT NULL" for n in slots if n)
    rows.execute(
        f"INSERT INTO {ZONE_SETS} (outdial_id, zones, first) "
        f"SELECT outdial_id, '', first FROM (SELECT outdial_id, "
        f"MAX(CASE WHEN destination_0 IS NOT NULL THEN 1 ELSE 0 END) AS has_first, "
        f"MAX(CASE WHEN {others} THEN 1 ELSE 0 END) AS has_other "
        f"FROM {TARGETS} WHERE {where} GROUP BY outdial_id) AS held "
        "CROSS JOIN (SELECT 1 AS first UNION ALL SELECT 0) AS kinds "
        "WHERE (first = 1 AND has_first = 1) OR (first = 0 AND has_other = 1) "
        "ON CONFLICT DO NOTHING",
        params,
    )
    return [row["id"] for row in found]


def _deleted_as_listed(found: list[Row], deleted: dict[str, Row]) -> str | None:
    """The one time at which the deletions delete exactly the live rows of a whole
    outdial, each to the version after its row's, or None when they do not (some other
    change of a row in the same batch, say). Then a statement can write them by the
    outdial's index of live targets, without naming each row (on PostgreSQL a join of
    100,000 named rows was a third of the statement)."""
    live = {row["id"]: row["version"] for row in found if row["tm_delete"] == NOT_DELETED}
    if live.keys() != deleted.keys():
        return None
    times = {changes.get("tm_delete") for changes in deleted.values()}
    if len(times) != 1:
        return None
    at = times.pop()
    for row_id, changes in deleted.items():
        if changes != {"tm_delete": at, "tm_update": at, "version": live[row_id] + 1}:
            return None
    return at


def _blanked_columns(rows: ChangedRows) -> str:
    """SQL of the assignments that blank a target row."""
    erased = ", ".join(
        f"destination_{n} = {_blank_json(rows, f'{TARGETS}.destination_{n}')}, "
        f"address_{n} = CASE WHEN {TARGETS}.destination_{n} IS NULL THEN NULL ELSE '' END, "
        f"zones_{n} = CASE WHEN {TARGETS}.destination_{n} IS NULL THEN NULL ELSE '' END"
        for n in range(DESTINATION_SLOTS)
    )
    return f"name = '', detail = '', data = '', {erased}"
