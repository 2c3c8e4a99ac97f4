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
from domain.timeline import format_timestamp
from projections.rows import ChangedRows, Erased, in_list
from projections.schema import (
    DIALS,
    ERASED_TARGETS,
    ERASURES,
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
    # Their addresses too where each pair is deleted by key (a whole outdial's go by a join).
    addresses = "" if whole else "".join(f", address_{n}" for n in slots)
    found = rows.select(f"SELECT id{addresses} FROM {TARGETS} WHERE {where}", params)
    ids = [row["id"] for row in found]
    deleted = {i: deleting.pop(i) for i in ids if i in deleting}
    shape = next(iter(deleted.values()), {}).keys()
    for row_id in [i for i, changes in deleted.items() if changes.keys() != shape]:
        deleting[row_id] = deleted.pop(row_id)  # one statement sets one set of columns
    for row_id, changes in deleting.items():  # of other targets: written as they were
        rows.change(TARGETS, row_id, changes)
    if not found:
        return []
    # A whole outdial's pairs are found by the table's key from each target's own
    # addresses: finding them by target id scanned the whole table, which grows with the
    # store and not with the outdial (0.9 s of an erasure at 1,000,000 targets).
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
    _blank_targets(rows, where, params, deleted, [i for i in ids if i not in deleted])
    rows.execute(
        f"UPDATE {DIALS} SET destination = {_blank_json(rows, 'destination')}, "
        f"destination_target = '' WHERE {dials_where}",
        params,
    )
    for first, set_slots in ((1, [0]), (0, [1, 2, 3, 4])):
        some = " OR ".join(f"destination_{n} IS NOT NULL" for n in set_slots)
        rows.execute(
            f"INSERT INTO {ZONE_SETS} (outdial_id, zones, first) "
            f"SELECT DISTINCT outdial_id, '', {first} FROM {TARGETS} WHERE {where} AND ({some}) "
            "ON CONFLICT DO NOTHING",
            params,
        )
    return ids


def _blank_targets(
    rows: ChangedRows,
    where: str,
    params: dict[str, str],
    deleted: dict[str, Row],
    others: list[str],
) -> None:
    """Blank the target rows ``where`` says: those in ``deleted`` with their deletion's
    changes in the same statement, then ``others``."""

    def erased_columns(table: str) -> str:
        return ", ".join(
            f"destination_{n} = {_blank_json(rows, f'{table}.destination_{n}')}, "
            f"address_{n} = CASE WHEN {table}.destination_{n} IS NULL THEN NULL ELSE '' END, "
            f"zones_{n} = CASE WHEN {table}.destination_{n} IS NULL THEN NULL ELSE '' END"
            for n in range(DESTINATION_SLOTS)
        )

    blank = f"name = '', detail = '', data = '', {erased_columns(TARGETS)}"
    if not deleted:
        rows.execute(f"UPDATE {TARGETS} SET {blank} WHERE {where}", params)
        return
    columns = sorted(next(iter(deleted.values())))
    given = ", ".join(f"{column} = given.{column}" for column in columns)
    rows.execute(
        f"UPDATE {TARGETS} SET {blank}, {given} FROM {rows.json_rows(TARGETS, columns)} AS given "
        f"WHERE {TARGETS}.id = given.id",
        {"rows": orjson.dumps([{**c, "id": i} for i, c in deleted.items()]).decode()},
    )
    if others:
        rows.execute(
            f"UPDATE {TARGETS} SET {blank} WHERE id IN {_json_texts(rows)}",
            {"texts": orjson.dumps(others).decode()},
        )


def _json_texts(rows: ChangedRows) -> str:
    """SQL of the texts a JSON array (``:texts``) holds, as a subquery."""
    if rows.on_postgres:
        return "(SELECT json_array_elements_text(:texts::json))"
    return "(SELECT value FROM json_each(:texts))"
