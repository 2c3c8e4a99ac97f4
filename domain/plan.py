"""Plan: how a target is dialed (VoIPbin's outplan dialing part), and eligibility rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from domain.errors import InvalidValue

if TYPE_CHECKING:
    from domain.address import Address

DESTINATION_SLOTS = 5
MAX_TRY_COUNT_LIMIT = 100
TRY_INTERVAL_MAX_MS = 604_800_000
DIAL_TIMEOUT_MIN_MS = 1_000
DIAL_TIMEOUT_MAX_MS = 86_400_000

PLAN_FIELDS: tuple[str, ...] = (
    *(f"max_try_count_{n}" for n in range(DESTINATION_SLOTS)),
    "try_interval",
    "dial_timeout",
)
_BOUNDS: dict[str, tuple[int, int]] = {
    **{f"max_try_count_{n}": (0, MAX_TRY_COUNT_LIMIT) for n in range(DESTINATION_SLOTS)},
    "try_interval": (0, TRY_INTERVAL_MAX_MS),
    "dial_timeout": (DIAL_TIMEOUT_MIN_MS, DIAL_TIMEOUT_MAX_MS),
}


@dataclass(frozen=True)
class Plan:
    """Tries per destination, the wait between dials (ms) and the dial timeout (ms)."""

    max_try_count_0: int = 1
    max_try_count_1: int = 1
    max_try_count_2: int = 1
    max_try_count_3: int = 1
    max_try_count_4: int = 1
    try_interval: int = 0
    dial_timeout: int = 60_000

    def __post_init__(self) -> None:
        for name in PLAN_FIELDS:
            value = getattr(self, name)
            low, high = _BOUNDS[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidValue(f"plan.{name}", "must be an integer")
            if not low <= value <= high:
                raise InvalidValue(f"plan.{name}", f"must be between {low} and {high}")

    def max_try_count(self, index: int) -> int:
        return int(getattr(self, f"max_try_count_{index}"))

    def with_changes(self, changes: Mapping[str, object]) -> Plan:
        """This plan with some fields replaced; fields left out keep their value."""
        unknown = sorted(set(changes) - set(PLAN_FIELDS))
        if unknown:
            raise InvalidValue(f"plan.{unknown[0]}", "is not a field of a plan")
        return replace(self, **changes)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in PLAN_FIELDS}

    def is_eligible(
        self, index: int, destinations: Sequence[Address | None], try_counts: Sequence[int]
    ) -> bool:
        """Destination ``index`` is set and has tries left under this plan."""
        return destinations[index] is not None and try_counts[index] < self.max_try_count(index)

    def next_destination(
        self, destinations: Sequence[Address | None], try_counts: Sequence[int]
    ) -> int | None:
        """The lowest eligible destination (destinations are dialed in order), or None."""
        for index in range(DESTINATION_SLOTS):
            if self.is_eligible(index, destinations, try_counts):
                return index
        return None


DEFAULT_PLAN = Plan()
