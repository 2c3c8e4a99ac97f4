"""The read-model tables as the projections write and read them: their names and columns,
the same on SQLite and PostgreSQL. The statements that make and change them, with their
types and indexes, are adapters/migrations.py's (schema ``read_model``).

Times are stored in their wire form (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), which sorts as
text; ``tm_delete`` holds the "not deleted" sentinel until a delete. Addresses, plans,
calling windows and a dial's time zones are JSON text. Queries decode what they read
(``decode_row``), so nothing outside this package sees the storage form.
"""

from __future__ import annotations

from typing import Any

import orjson

from domain.address import Address
from domain.calling_window import CallingWindow
from domain.plan import DESTINATION_SLOTS, Plan
from domain.timeline import NOT_DELETED

Row = dict[str, Any]

OUTDIALS = "outdials"
TARGETS = "targets"
DIALS = "dials"
DO_NOT_CALL = "do_not_call"
# Every distinct zone key (domain.calling_window.zone_key) of an outdial's targets'
# destinations: what a query judges the calling window in, each key once. ``first`` is 1
# for a first destination's key, 0 for a later one's ('' for a later one judged in the
# window's own zone).
ZONE_SETS = "outdial_zone_sets"
ERASURES = "erasures"
# (erasure, target) for each target an erasure names: the erasures of a target.
ERASED_TARGETS = "erased_targets"
# (address, target) for each set destination's target string, erased ones excepted: the
# targets an erasure by address finds.
TARGET_ADDRESSES = "target_addresses"
# Every length of a customer's prefix entries: the prefixes of a number worth looking up.
PREFIX_LENGTHS = "do_not_call_prefix_lengths"

# A live target in the words of the indexes of live targets (their partial condition,
# adapters/migrations.py): a query of live targets says it so, or no index of them serves
# it (a bound parameter does not match the condition on either store).
LIVE_TARGET = f"tm_delete = '{NOT_DELETED}'"

DESTINATIONS = tuple(f"destination_{n}" for n in range(DESTINATION_SLOTS))
TRY_COUNTS = tuple(f"try_count_{n}" for n in range(DESTINATION_SLOTS))
# A destination's target string, plain, for the do-not-call list to match.
ADDRESSES = tuple(f"address_{n}" for n in range(DESTINATION_SLOTS))
# A number's time zones as one key (zone_key), NULL when it maps to none or is no number.
ZONES = tuple(f"zones_{n}" for n in range(DESTINATION_SLOTS))

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
        "status",  # running or paused
        "calling_window",  # JSON, NULL when none
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
        *ADDRESSES,
        *ZONES,
        # Retry rules' decisions (domain.retry_rules): bit N set when destination N is
        # closed (next_destination); 1 once a finish or do_not_call rule made it done;
        # when the last dial's retry rule's own interval ends (NULL: the plan's
        # try_interval counts from last_dial_end).
        "closed",
        "finished",
        "retry_at",
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
        "time_zones",  # JSON list: the zones its calling window was judged in
    ),
    DO_NOT_CALL: (
        "id",
        "customer_id",
        "target",
        "match",  # exact or prefix
        "outdial_id",  # the nil UUID: every outdial of the customer
        "reason",
        "expires_at",  # wire timestamp, NULL: never
        "actor",  # who added, changed or removed it last
        "tm_create",
        "tm_update",
        "tm_delete",
        "version",
    ),
    ZONE_SETS: ("outdial_id", "zones", "first"),
    PREFIX_LENGTHS: ("customer_id", "length"),
    ERASURES: (
        "id",
        "customer_id",
        "outdial_id",  # the nil UUID for targets named (by id or found by address)
        "target_ids",  # JSON list
        "count",
        "reason",
        "actor",
        "tm_create",
    ),
    ERASED_TARGETS: ("erasure_id", "target_id"),
    TARGET_ADDRESSES: ("address", "target_id"),
}

# The columns that identify a row of each table (``id`` unless named here).
KEYS: dict[str, tuple[str, ...]] = {
    ZONE_SETS: ("outdial_id", "zones", "first"),
    PREFIX_LENGTHS: ("customer_id", "length"),
    ERASED_TARGETS: ("target_id", "erasure_id"),
    TARGET_ADDRESSES: ("address", "target_id"),
}

JSON_COLUMNS = frozenset(
    {"plan", "destination", *DESTINATIONS, "calling_window", "time_zones", "target_ids"}
)


def key_of(table: str) -> tuple[str, ...]:
    return KEYS.get(table, ("id",))


# The projection worker's own row: who is active, its last sign of life, and the event it
# failed on, so that every process of the store can tell whether the read model follows.
STATUS = "projection_status"

# Secrets of the store, each made once by whichever process needs it first (the key that
# signs page tokens), so every process of the store and every restart agree on them.
SECRETS = "store_secrets"


def to_json(value: Address | Plan | CallingWindow | None) -> str | None:
    """Addresses, plans and calling windows are stored as JSON text; unset ones as NULL."""
    return None if value is None else orjson.dumps(value.as_dict()).decode()


def zones_json(zones: tuple[str, ...] | list[str]) -> str:
    """A dial's time zones as stored: a JSON list."""
    return orjson.dumps(list(zones)).decode()


def decode_row(row: Row) -> Row:
    """A stored row with its JSON columns read back into plain values (in place)."""
    for column in JSON_COLUMNS:
        value = row.get(column)
        if value is not None:
            row[column] = orjson.loads(value)
    if "manual" in row:
        row["manual"] = bool(row["manual"])
    return row
