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
  ``EXISTS`` probes the ``do_not_call_target`` index once per candidate key (the address
  and its 4..16-character prefixes), never a scan of the list;
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

from collections.abc import Iterable
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


def _blocked(n: int) -> str:
    address = f"t.address_{n}"
    keys = ", ".join(
        [address] + [f"substr({address}, 1, {k})" for k in range(PREFIX_MIN, _E164_MAX + 1)]
    )
    # is_e164 in SQL both stores know: "+" and 7..15 ASCII digits.
    e164 = (
        f"length({address}) BETWEEN 8 AND {_E164_MAX} AND substr({address}, 1, 1) = '+' "
        f"AND ltrim(substr({address}, 2), '0123456789') = ''"
    )
    return (
        "EXISTS (SELECT 1 FROM do_not_call d WHERE d.customer_id = :customer "
        f"AND d.target IN ({keys}) "
        f"AND ((d.match = 'exact' AND d.target = {address}) OR (d.match = 'prefix' AND {e164})) "
        "AND d.outdial_id IN (:every_outdial, :outdial) AND d.tm_delete = :live "
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
    columns: str = "t.*",
) -> tuple[str, dict[str, Any]] | None:
    """The SELECT of the targets available now and its parameters; None when the window is
    closed for every destination (nothing is available)."""
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
        f"WHEN {_eligible(n)} AND NOT {_blocked(n)} THEN {opens[n] or 'TRUE'}"
        for n in range(DESTINATION_SLOTS)
    )
    where.append(f"(CASE {branches} ELSE FALSE END)")
    statement = (
        f"SELECT {columns} FROM targets t WHERE {' AND '.join(where)} "
        "ORDER BY t.tm_update, t.id LIMIT :limit"
    )
    return statement, params
