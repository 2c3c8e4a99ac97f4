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
  window's own zone (the key ""). The zones are judged in Python, each distinct key of
  the outdial once (``outdial_zone_sets``), and the statement gets the keys that are
  open now as parameters (none open: nothing is available, and no statement runs). When
  no later destination of the
  outdial is in an open zone, only targets whose first destination is in an open zone
  can be available, and the statement walks the ``targets_available_zone`` index once
  per such key, so the targets a closed window stops (half a campaign, and all of what
  is left once the open half is dialed) are never passed over;
- destination N **closed** by a retry rule (``next_destination``, bit N of ``closed``):
  not eligible;
- ``try_interval`` passed since the last dial ended, or when the last dial's retry rule
  has an interval of its own, its end (``retry_at``) passed.

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
from projections.schema import LIVE_TARGET

# The longest E.164 number: "+" and 15 digits; a prefix entry is at most as long.
_E164_MAX = 16


# Past this many open keys of first destinations, one walk over the outdial's targets
# rather than one per key.
_WALKS_MAX = 16


@dataclass(frozen=True)
class Window:
    """A calling window as judged at one instant: which of the outdial's zone keys are open
    ("" stands for the window's own zone; None: a window that ignores numbers' zones and
    is open in its own).

    ``first_open`` are the open keys of first destinations (destination_0); ``later_open``
    whether any later destination of the outdial is in an open zone. When none is, a
    target whose first destination is closed cannot be available (it waits for it, or
    has no later destination it could dial instead), so the targets worth looking at are
    those whose first destination's key is open: one index walk per key."""

    open_keys: tuple[str, ...] | None
    first_open: tuple[str, ...] = ()
    later_open: bool = True

    @classmethod
    def judged(
        cls, window: CallingWindow, keys: Iterable[tuple[str, bool]], now: datetime
    ) -> Window | None:
        """``keys``: the outdial's (zone key, of a first destination) pairs. None when no
        destination can be open now."""
        own_open = window.is_open((window.time_zone,), now)
        if not window.use_number_time_zone:
            return cls(None) if own_open else None
        judged = {
            (key, first): own_open if key == "" else window.is_open(key.split(" "), now)
            for key, first in keys
        }
        open_keys = tuple(sorted({key for (key, _), is_open in judged.items() if is_open}))
        if not open_keys:
            return None
        return cls(
            open_keys,
            tuple(sorted(key for (key, first), is_open in judged.items() if is_open and first)),
            any(is_open for (_, first), is_open in judged.items() if not first),
        )

    @property
    def walks(self) -> tuple[str, ...] | None:
        """The first destinations' keys to walk the targets of, one at a time, or None for
        one walk over all of them."""
        if self.open_keys is None or self.later_open or len(self.first_open) > _WALKS_MAX:
            return None
        return self.first_open


def _eligible(n: int) -> str:
    return (
        f"(t.destination_{n} IS NOT NULL AND t.try_count_{n} < :max_{n} "
        f"AND (t.closed & {1 << n}) = 0)"
    )


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
        return None  # no window, or only its own zone, which is open
    marks = ", ".join(f":zone_{k}" for k in range(len(window.open_keys)))
    params.update({f"zone_{k}": key for k, key in enumerate(window.open_keys)})
    return f"t.zones_{n} IN ({marks})"


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
    after: tuple[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The SELECT of the targets available now and its parameters. ``window``: the calling
    window judged now (None: none); ``prefix_lengths``: the lengths of the customer's
    prefix entries (do_not_call_prefix_lengths), the prefixes of an address worth looking
    up; ``after``: only targets after this (tm_update, id)."""
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
        f"t.{LIVE_TARGET}",
        "((t.retry_at IS NULL AND (t.last_dial_end IS NULL OR t.last_dial_end <= :ready)) "
        "OR t.retry_at <= :now)",
    ]
    if after is not None:  # a range of the index both stores walk from its start
        where.append(
            "t.tm_update >= :after_time AND (t.tm_update > :after_time OR t.id > :after_id)"
        )
        params.update(after_time=after[0], after_id=after[1])
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
    conditions = " AND ".join(where)
    order = "ORDER BY t.tm_update, t.id LIMIT :limit"
    walks = None if window is None else window.walks
    if walks is None:
        return f"SELECT {columns} FROM targets t WHERE {conditions} {order}", params
    # One walk of the targets_available_zone index per open key of first destinations,
    # each stopping at the limit, then the oldest of them all: the targets a closed
    # window stops are never passed over.
    pinned = " INDEXED BY targets_available_zone" if sqlite else ""
    arms = []
    for n, key in enumerate(walks):
        params[f"first_{n}"] = key
        arms.append(
            f"SELECT * FROM (SELECT {columns}, t.tm_update AS sort_time, t.id AS sort_id "
            f"FROM targets t{pinned} WHERE t.zones_0 = :first_{n} AND {conditions} {order}) "
            f"AS walk_{n}"
        )
    statement = (
        f"SELECT * FROM ({' UNION ALL '.join(arms)}) AS walks "
        "ORDER BY sort_time, sort_id LIMIT :limit"
    )
    return statement, params
