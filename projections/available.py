"""The read model's statement of ``Target.availability``: which targets may be dialed now.

One SELECT over the outdial's targets, oldest ``tm_update`` first, walking the
``targets_available`` index and stopping at the limit. Each rule of the domain is a
condition of it:

- a live target, idle, of a live outdial that is not paused (the outdial's row, read
  first: a paused or deleted outdial answers nothing without a query of its targets);
- destination N **eligible**: set, and ``try_count_N < max_try_count_N``;
- destination N **blocked**: a live, unexpired entry of the customer's do-not-call list,
  for every outdial (the nil UUID) or this one, whose target is N's address (``exact``),
  or one of its prefixes when the address is an E.164 number (``prefix``). A correlated
  ``EXISTS`` probes the ``do_not_call_target`` index once per candidate key: the address,
  and its prefixes as long as the customer's prefix entries are (a handful of lengths,
  kept in ``do_not_call_prefix_lengths``), never a scan of the list;
- the **next destination** is the lowest eligible one that is not blocked: a ``CASE``
  whose branches are tried in order, so a destination's entries are looked up only when
  all before it were skipped; none (every eligible destination blocked, or none
  eligible) is not available;
- the **calling window**, judged on that next destination: in its number's zones
  (``zones_N``) when the window says so and the number maps to some, else in the
  window's own zone. The zones are judged in Python, each distinct key of the outdial
  once (``outdial_zone_sets``), and the statement gets the keys that are open now (and
  whether the window's own zone is) as parameters;
- ``try_interval`` passed since the last dial ended.

tests/integration/test_available_rules.py holds the answers to the domain's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.calling_window import CallingWindow
from domain.do_not_call import EVERY_OUTDIAL, PREFIX_MIN
from domain.plan import DESTINATION_SLOTS, Plan
from domain.timeline import NOT_DELETED, format_timestamp

# The longest E.164 number: "+" and 15 digits; a prefix entry is at most as long.
_E164_MAX = 16


@dataclass(frozen=True)
class Window:
    """A calling window as judged at one instant: whether its own zone is open, and which
    of the outdial's zone keys are (None: no window, or one that ignores numbers' zones)."""

    own_open: bool
    open_keys: tuple[str, ...] | None

    @classmethod
    def judged(cls, window: CallingWindow, keys: Iterable[str], now: datetime) -> Window:
        own_open = window.is_open((window.time_zone,), now)
        if not window.use_number_time_zone:
            return cls(own_open, None)
        return cls(own_open, tuple(k for k in keys if window.is_open(k.split(" "), now)))

    @property
    def never_open(self) -> bool:
        """Closed for every destination of the outdial: nothing is available."""
        return not self.own_open and not self.open_keys


def _eligible(n: int) -> str:
    return f"(t.destination_{n} IS NOT NULL AND t.try_count_{n} < :max_{n})"


def _blocked(n: int, lengths: Sequence[int], sqlite: bool) -> str:
    address = f"t.address_{n}"
    # Its exact entry, and the prefixes of it as long as some prefix entry of the customer.
    keys = ", ".join([address] + [f"substr({address}, 1, {int(k)})" for k in lengths])
    # is_e164 in SQL both stores know: "+" and 7..15 ASCII digits.
    e164 = (
        f"length({address}) BETWEEN 8 AND {_E164_MAX} AND substr({address}, 1, 1) = '+' "
        f"AND ltrim(substr({address}, 2), '0123456789') = ''"
    )
    # Only the customer and the keys may lead to rows: a store without statistics (a list
    # just imported) must not walk another index over the customer's whole list, so SQLite
    # is told the index and the scope is a condition no index serves (IS TRUE) on both.
    pinned = " INDEXED BY do_not_call_target" if sqlite else ""
    matches = f"d.match = 'exact' AND d.target = {address}"
    if lengths:
        matches = f"({matches}) OR (d.match = 'prefix' AND {e164})"
    return (
        f"EXISTS (SELECT 1 FROM do_not_call d{pinned} WHERE d.customer_id = :customer "
        f"AND d.target IN ({keys}) AND ({matches}) "
        "AND (d.outdial_id IN (:every_outdial, :outdial)) IS TRUE AND d.tm_delete = :live "
        "AND (d.expires_at IS NULL OR d.expires_at > :now))"
    )


def _open(n: int, window: Window | None, params: dict[str, Any]) -> str | None:
    """Whether the window is open for destination N; None when it is for every one."""
    if window is None or window.open_keys is None:
        return None  # no window, or its own zone alone (open: the caller checked)
    zones = f"t.zones_{n}"
    if window.open_keys:
        marks = ", ".join(f":zone_{k}" for k in range(len(window.open_keys)))
        params.update({f"zone_{k}": key for k, key in enumerate(window.open_keys)})
        in_open = f"{zones} IN ({marks})"
        return f"({zones} IS NULL OR {in_open})" if window.own_open else in_open
    return f"{zones} IS NULL"  # the own zone is open (else nothing would be)


def available_statement(
    customer_id: UUID,
    outdial_id: UUID,
    *,
    plan: Plan,
    now: datetime,
    limit: int,
    window: Window | None,
    prefix_lengths: Sequence[int],
    sqlite: bool,
    columns: str = "t.*",
) -> tuple[str, dict[str, Any]] | None:
    """The SELECT of the targets available now and its parameters; None when the window is
    closed for every destination (nothing is available). ``prefix_lengths``: the lengths
    of the customer's prefix entries (do_not_call_prefix_lengths), the prefixes of an
    address worth looking up."""
    if window is not None and window.never_open:
        return None
    params: dict[str, Any] = {
        "outdial": str(outdial_id),
        "customer": str(customer_id),
        "every_outdial": str(EVERY_OUTDIAL),
        "live": NOT_DELETED,
        "now": format_timestamp(now),
        "ready": format_timestamp(now - timedelta(milliseconds=plan.try_interval)),
        "limit": limit,
        **{f"max_{n}": plan.max_try_count(n) for n in range(DESTINATION_SLOTS)},
    }
    opens = [_open(n, window, params) for n in range(DESTINATION_SLOTS)]
    lengths = sorted({k for k in prefix_lengths if PREFIX_MIN <= k <= _E164_MAX})
    where = [
        "t.outdial_id = :outdial",
        "t.customer_id = :customer",
        "t.status = 'idle'",
        "t.tm_delete = :live",
        "(t.last_dial_end IS NULL OR t.last_dial_end <= :ready)",
    ]
    if any(opens):
        # Cheap and necessary: some eligible destination is in an open zone. Most targets
        # a closed window stops go here, before any do-not-call lookup.
        where.append(
            "(" + " OR ".join(f"({_eligible(n)} AND {o})" for n, o in enumerate(opens)) + ")"
        )
    else:
        where.append("(" + " OR ".join(_eligible(n) for n in range(DESTINATION_SLOTS)) + ")")
    branches = " ".join(
        f"WHEN {_eligible(n)} AND NOT {_blocked(n, lengths, sqlite)} THEN {opens[n] or 'TRUE'}"
        for n in range(DESTINATION_SLOTS)
    )
    where.append(f"(CASE {branches} ELSE FALSE END)")
    statement = (
        f"SELECT {columns} FROM targets t WHERE {' AND '.join(where)} "
        "ORDER BY t.tm_update, t.id LIMIT :limit"
    )
    return statement, params
