"""Do-not-call entry events → ``do_not_call`` rows, and the lengths of each customer's
prefix entries (added, never removed: a length too many costs a lookup, never an answer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.do_not_call import DoNotCallEntry
from domain.timeline import NOT_DELETED, format_timestamp
from projections.rows import ChangedRows
from projections.schema import DO_NOT_CALL, PREFIX_LENGTHS


def entry_added(rows: ChangedRows, event: DoNotCallEntry.Added) -> None:
    stamp = format_timestamp(event.timestamp)
    rows.insert(
        DO_NOT_CALL,
        {
            "id": str(event.originator_id),
            "customer_id": str(event.customer_id),
            "target": event.target,
            "match": event.match,
            "outdial_id": str(event.outdial_id),
            "reason": event.reason,
            "expires_at": expiry(event.expires_at),
            "actor": event.actor,
            "tm_create": stamp,
            "tm_update": stamp,
            "tm_delete": NOT_DELETED,
            "version": event.originator_version,
        },
    )
    if event.match == "prefix":
        rows.insert_absent(
            PREFIX_LENGTHS, {"customer_id": str(event.customer_id), "length": len(event.target)}
        )


def entry_changed(rows: ChangedRows, event: DoNotCallEntry.Changed) -> None:
    """A new reason or expiry; on a removed entry, it is added again."""
    _touch(
        rows,
        event,
        {"reason": event.reason, "expires_at": expiry(event.expires_at), "tm_delete": NOT_DELETED},
    )


def entry_removed(rows: ChangedRows, event: DoNotCallEntry.Removed) -> None:
    _touch(rows, event, {"tm_delete": format_timestamp(event.timestamp)})


def expiry(expires_at: datetime | None) -> str | None:
    return None if expires_at is None else format_timestamp(expires_at)


def _touch(
    rows: ChangedRows,
    event: DoNotCallEntry.Changed | DoNotCallEntry.Removed,
    changes: dict[str, Any],
) -> None:
    """Every later event changes some fields, the actor, ``tm_update`` and the version."""
    if rows.get(DO_NOT_CALL, str(event.originator_id)) is None:
        msg = f"do-not-call entry {event.originator_id} has no row to change"
        raise LookupError(msg)
    changes.update(
        actor=event.actor,
        tm_update=format_timestamp(event.timestamp),
        version=event.originator_version,
    )
    rows.update(DO_NOT_CALL, str(event.originator_id), changes)
