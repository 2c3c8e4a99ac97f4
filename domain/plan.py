"""Plan: how a target is dialed (VoIPbin's outplan dialing part), and eligibility rules."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from domain.errors import InvalidValue
from domain.retry_rules import RETRY_INTERVAL_MAX_MS, RetryRule, checked_rules, rule_for

if TYPE_CHECKING:
    from domain.address import Address

DESTINATION_SLOTS = 5
MAX_TRY_COUNT_LIMIT = 100
TRY_INTERVAL_MAX_MS = RETRY_INTERVAL_MAX_MS
DIAL_TIMEOUT_MIN_MS = 1_000
DIAL_TIMEOUT_MAX_MS = 86_400_000

# The plan's numbers; its retry rules (domain.retry_rules) are its one other field.
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
    """Tries per destination, the wait between dials (ms), the dial timeout (ms) and what
    a failed dial's reason does (``retry_rules``, none by default: every failure retries)."""

    max_try_count_0: int = 1
    max_try_count_1: int = 1
    max_try_count_2: int = 1
    max_try_count_3: int = 1
    max_try_count_4: int = 1
    try_interval: int = 0
    dial_timeout: int = 60_000
    retry_rules: tuple[RetryRule, ...] = ()

    def __post_init__(self) -> None:
        for name in PLAN_FIELDS:
            value = getattr(self, name)
            low, high = _BOUNDS[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidValue(f"plan.{name}", "must be an integer")
            if not low <= value <= high:
                raise InvalidValue(f"plan.{name}", f"must be between {low} and {high}")
        if self.retry_rules != ():
            object.__setattr__(
                self, "retry_rules", checked_rules(self.retry_rules, "plan.retry_rules")
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Plan:
        """A plan as ``as_dict`` wrote it; one stored before retry rules has none."""
        return cls(**data)  # type: ignore[arg-type]  # __post_init__ checks every field

    def max_try_count(self, index: int) -> int:
        return int(getattr(self, f"max_try_count_{index}"))

    def with_changes(self, changes: Mapping[str, object]) -> Plan:
        """This plan with some fields replaced; fields left out keep their value.
        ``retry_rules`` replaces the rules whole (``[]``: none)."""
        unknown = sorted(set(changes) - {*PLAN_FIELDS, "retry_rules"})
        if unknown:
            raise InvalidValue(f"plan.{unknown[0]}", "is not a field of a plan")
        return replace(self, **changes)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, object]:
        wired: dict[str, object] = {name: getattr(self, name) for name in PLAN_FIELDS}
        wired["retry_rules"] = [rule.as_dict() for rule in self.retry_rules]
        return wired

    def rule_for(self, result: str, reason: str) -> RetryRule | None:
        """The rule that decides a finish under this plan (None: retry by try_interval)."""
        return rule_for(self.retry_rules, result, reason)

    def is_eligible(
        self,
        index: int,
        destinations: Sequence[Address | None],
        try_counts: Sequence[int],
        closed: Collection[int] = (),
    ) -> bool:
        """Destination ``index`` is set, not closed by a retry rule (``next_destination``)
        and has tries left under this plan."""
        return (
            destinations[index] is not None
            and index not in closed
            and try_counts[index] < self.max_try_count(index)
        )

    def next_destination(
        self,
        destinations: Sequence[Address | None],
        try_counts: Sequence[int],
        closed: Collection[int] = (),
    ) -> int | None:
        """The lowest eligible destination (destinations are dialed in order), or None."""
        for index in range(DESTINATION_SLOTS):
            if self.is_eligible(index, destinations, try_counts, closed):
                return index
        return None


DEFAULT_PLAN = Plan()
