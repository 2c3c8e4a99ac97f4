"""The read-model tables and their indexes, the same on SQLite and PostgreSQL.

Times are stored in their wire form (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), which sorts as
text; ``tm_delete`` holds the "not deleted" sentinel until a delete. Addresses and plans
are JSON text. Queries decode what they read (``decode_row``), so nothing outside this
package sees the storage form.
"""

from __future__ import annotations

from typing import Any

import orjson

from domain.address import Address
from domain.plan import DESTINATION_SLOTS, Plan

Row = dict[str, Any]

OUTDIALS = "outdials"
TARGETS = "targets"
DIALS = "dials"

DESTINATIONS = tuple(f"destination_{n}" for n in range(DESTINATION_SLOTS))
TRY_COUNTS = tuple(f"try_count_{n}" for n in range(DESTINATION_SLOTS))

COLUMNS: dict[str, tuple[str, ...]] = {
    OUTDIALS: (
        "id",
        "customer_id",
        "campaign_id",
        "name",
        "detail",
        "data",
        "plan",
        "tm_create",
        "tm_update",
        "tm_delete",
        "version",
    ),
    TARGETS: (
        "id",
        "outdial_id",
        "name",
        "detail",
        "data",
        "status",
        *DESTINATIONS,
        *TRY_COUNTS,
        "tm_create",
        "tm_update",
        "tm_delete",
        "customer_id",
        "version",
        "dial_in_flight",  # id of the dial in flight, or NULL
        "last_dial_end",  # when the latest dial ended: try_interval counts from here
        "succeeded",  # 1 once any dial succeeded: the target stays done
    ),
    DIALS: (
        "id",
        "outdial_id",
        "outdial_target_id",
        "destination_index",
        "destination",
        "try_count",
        "reference_id",
        "status",
        "result",
        "reason",
        "plan",
        "tm_start",
        "tm_end",
        "duration_ms",
        "customer_id",
        "destination_target",  # the dialed address's target string, for audit search
        "timeout_at",  # tm_start + the plan's dial_timeout: when the service may time it out
        "timed_out",
        "late",
        "actor",  # who started it: an API key's id, or system:...
        "manual",  # 1 for an operator's start, 0 for a dispatch
    ),
}

# Columns added after the first stores were made: each older read model gains them, with
# the value the events stored before them replay to.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    (DIALS, "actor", "TEXT NOT NULL DEFAULT ''"),
    (DIALS, "manual", "INTEGER NOT NULL DEFAULT 0"),
)

JSON_COLUMNS = frozenset({"plan", "destination", *DESTINATIONS})
_INTEGER_COLUMNS = frozenset(
    {
        "version",
        "succeeded",
        "destination_index",
        "try_count",
        "timed_out",
        "late",
        "manual",
        *TRY_COUNTS,
    }
)
_BIGINT_COLUMNS = frozenset({"duration_ms"})


def _column_type(name: str) -> str:
    if name in _BIGINT_COLUMNS:
        return "BIGINT"
    return "INTEGER" if name in _INTEGER_COLUMNS else "TEXT"


def _table_statement(table: str) -> str:
    columns = ", ".join(
        f"{c} {_column_type(c)}{' PRIMARY KEY' if c == 'id' else ''}" for c in COLUMNS[table]
    )
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns})"


INDEXES: tuple[str, ...] = (
    # Newest-first pages of a customer's live outdials.
    "CREATE INDEX IF NOT EXISTS outdials_page ON outdials (customer_id, tm_delete, tm_create, id)",
    # Newest-first pages of an outdial's targets: live ones (the default), with a status
    # filter, and deleted ones too. Each index matches its query whole, so the planner
    # picks it even before a table's statistics exist.
    "CREATE INDEX IF NOT EXISTS targets_live ON targets (outdial_id, tm_delete, tm_create, id)",
    "CREATE INDEX IF NOT EXISTS targets_live_status "
    "ON targets (outdial_id, status, tm_delete, tm_create, id)",
    "CREATE INDEX IF NOT EXISTS targets_page ON targets (outdial_id, tm_create, id)",
    "DROP INDEX IF EXISTS targets_status",  # replaced by targets_live_status
    # The available query: idle, live, oldest tm_update first.
    "CREATE INDEX IF NOT EXISTS targets_available "
    "ON targets (outdial_id, status, tm_delete, tm_update, id)",
    # Dials: of a target, and the audit search by outdial, number, result and time.
    "CREATE INDEX IF NOT EXISTS dials_target ON dials (outdial_target_id, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_customer ON dials (customer_id, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_outdial ON dials (customer_id, outdial_id, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_destination "
    "ON dials (customer_id, destination_target, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_reference ON dials (customer_id, reference_id, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_actor ON dials (customer_id, actor, tm_start, id)",
    "CREATE INDEX IF NOT EXISTS dials_result ON dials (customer_id, result, tm_start, id)",
    # Dials the service must time out.
    "CREATE INDEX IF NOT EXISTS dials_overdue ON dials (status, timeout_at)",
)

# The projection worker's own row: who is active, its last sign of life, and the event it
# failed on, so that every process of the store can tell whether the read model follows.
STATUS = "projection_status"
STATUS_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {STATUS} (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "
    "heartbeat DOUBLE PRECISION NOT NULL, failed_at BIGINT, error TEXT)"
)

# Secrets of the store, each made once by whichever process needs it first (the key that
# signs page tokens), so every process of the store and every restart agree on them.
SECRETS = "store_secrets"
SECRETS_TABLE = f"CREATE TABLE IF NOT EXISTS {SECRETS} (name TEXT PRIMARY KEY, value TEXT NOT NULL)"

# Tables first, then the columns older stores lack (each store adds them its way), then
# the indexes, some of which are on those columns.
TABLES: tuple[str, ...] = (*(_table_statement(t) for t in COLUMNS), STATUS_TABLE, SECRETS_TABLE)


def add_column_statement(table: str, column: str, kind: str) -> str:
    return f"ALTER TABLE {table} ADD COLUMN {column} {kind}"


def to_json(value: Address | Plan | None) -> str | None:
    """Addresses and plans are stored as JSON text; unset destinations as NULL."""
    return None if value is None else orjson.dumps(value.as_dict()).decode()


def decode_row(row: Row) -> Row:
    """A stored row with its JSON columns read back into plain values (in place)."""
    for column in JSON_COLUMNS:
        value = row.get(column)
        if value is not None:
            row[column] = orjson.loads(value)
    if "manual" in row:
        row["manual"] = bool(row["manual"])
    return row
