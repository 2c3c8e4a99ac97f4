"""Retry rules: what a failed dial's reason does to its target.

A plan's rules map a finished dial's ``reason`` to an action: ``retry`` (after the rule's
own interval, else the plan's ``try_interval``), ``next_destination`` (this destination
gets no more tries), ``finish`` (the target is done) or ``do_not_call`` (done, and the
dialed address goes on the customer's do-not-call list). Reasons match case-insensitively,
``"*"`` matches any, the first match wins; no match, or no rules, is ``retry`` with the
plan's ``try_interval``. Rules apply to ``fail`` results only.

Each DialStarted records its plan, rules included, so a finish's decision follows from
the target's own events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args
from uuid import UUID

from domain.errors import InvalidValue
from domain.text import check_plain_text

Action = Literal["retry", "next_destination", "finish", "do_not_call"]
ACTIONS: tuple[str, ...] = get_args(Action)
RETRY_RULES_MAX = 32
ANY_REASON = "*"
# A dial's reason is cut to this length when recorded, so a longer rule could never match.
RULE_REASON_MAX = 64
# The longest wait between dials, a week: a rule's retry_interval and the plan's
# try_interval (domain.plan) share it.
RETRY_INTERVAL_MAX_MS = 604_800_000


@dataclass(frozen=True)
class RetryRule:
    """One rule: a reason (or ``"*"``), its action and, for ``retry``, its own interval (ms)."""

    reason: str
    action: str
    retry_interval: int | None = None

    @classmethod
    def parse(cls, data: object, field: str = "retry_rule") -> RetryRule:
        """A rule from its wire form; refusals name ``field`` and the part of it."""
        if not isinstance(data, Mapping):
            raise InvalidValue(field, "must be an object with reason and action")
        unknown = sorted(set(data) - {"reason", "action", "retry_interval"})
        if unknown:
            raise InvalidValue(f"{field}.{unknown[0]}", "is not a field of a retry rule")
        reason, action = data.get("reason"), data.get("action")
        interval = data.get("retry_interval")
        if not isinstance(reason, str) or not 1 <= len(reason) <= RULE_REASON_MAX:
            raise InvalidValue(
                f"{field}.reason", f"must be a string of 1 to {RULE_REASON_MAX} characters"
            )
        check_plain_text(f"{field}.reason", reason)
        if action not in ACTIONS:
            raise InvalidValue(f"{field}.action", f"must be one of {', '.join(ACTIONS)}")
        if interval is not None:
            if action != "retry":
                raise InvalidValue(
                    f"{field}.retry_interval", "is allowed only with the action retry"
                )
            if isinstance(interval, bool) or not isinstance(interval, int):
                raise InvalidValue(f"{field}.retry_interval", "must be an integer")
            if not 0 <= interval <= RETRY_INTERVAL_MAX_MS:
                raise InvalidValue(
                    f"{field}.retry_interval", f"must be between 0 and {RETRY_INTERVAL_MAX_MS}"
                )
        return cls(reason, str(action), interval)

    @property
    def closes_destination(self) -> bool:
        return self.action == "next_destination"

    @property
    def finishes(self) -> bool:
        """``finish``, and ``do_not_call`` (which also lists the dialed address)."""
        return self.action in ("finish", "do_not_call")

    def matches(self, reason: str) -> bool:
        return self.reason == ANY_REASON or self.reason.casefold() == reason.casefold()

    def as_dict(self) -> dict[str, Any]:
        wired: dict[str, Any] = {"reason": self.reason, "action": self.action}
        if self.retry_interval is not None:
            wired["retry_interval"] = self.retry_interval
        return wired

    def describe(self) -> str:
        """As a person reads it: ``busy → retry after 300 s``."""
        if self.action == "retry" and self.retry_interval is not None:
            return f"{self.reason} → retry after {_seconds(self.retry_interval)}"
        return f"{self.reason} → {self.action}"


def checked_rules(rules: object, field: str = "retry_rules") -> tuple[RetryRule, ...]:
    """A plan's rules from their wire form (a list), or as the domain holds them.

    Besides each rule's own checks: at most ``RETRY_RULES_MAX``, and none that could never
    match (the same reason as an earlier one, or any after ``"*"``), since the first match
    wins and such a rule would only mislead whoever reads the plan."""
    if isinstance(rules, str | bytes) or not isinstance(rules, Sequence):
        raise InvalidValue(field, "must be a list of rules")
    if len(rules) > RETRY_RULES_MAX:
        raise InvalidValue(field, f"must hold at most {RETRY_RULES_MAX} rules")
    checked: list[RetryRule] = []
    seen: dict[str, int] = {}
    for n, rule in enumerate(rules):
        where = f"{field}[{n}]"
        parsed = RetryRule.parse(rule.as_dict() if isinstance(rule, RetryRule) else rule, where)
        if ANY_REASON in seen:
            raise InvalidValue(
                f"{where}.reason", f'can never match: rule {seen[ANY_REASON]} ("*") matches first'
            )
        key = parsed.reason if parsed.reason == ANY_REASON else parsed.reason.casefold()
        if key in seen:
            raise InvalidValue(
                f"{where}.reason", f"can never match: rule {seen[key]} has the same reason"
            )
        seen[key] = n
        checked.append(parsed)
    return tuple(checked)


def rule_for(rules: Sequence[RetryRule], result: str, reason: str) -> RetryRule | None:
    """The rule that decides a finish: the first whose reason matches a ``fail``'s; None
    for a success, or when none matches (``retry`` with the plan's try_interval)."""
    if result != "fail":
        return None
    return next((rule for rule in rules if rule.matches(reason)), None)


@dataclass(frozen=True)
class Decision:
    """What a rule did to a target: which dial's finish, with which reason, by which rule."""

    dial_id: UUID
    reason: str
    rule: RetryRule

    def describe(self) -> str:
        """``busy → next_destination`` (the rule's own reason when it is ``"*"``)."""
        said = self.reason if self.rule.reason == ANY_REASON else self.rule.reason
        shown = RetryRule(said or '""', self.rule.action, self.rule.retry_interval).describe()
        if self.rule.reason == ANY_REASON:
            shown += ' (rule "*")'
        return f"{shown}, dial {self.dial_id}"

    def by_rule(self) -> str:
        """For a retry's wait: ``by rule busy, 300 s``."""
        interval = self.rule.retry_interval
        waits = "" if interval is None else f", {_seconds(interval)}"
        return f"by rule {self.rule.reason}{waits} (dial {self.dial_id}, reason {self.reason!r})"

    def as_dict(self) -> dict[str, Any]:
        return {"dial_id": self.dial_id, "reason": self.reason, "rule": self.rule.as_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        return cls(data["dial_id"], data["reason"], RetryRule.parse(data["rule"]))


def _seconds(ms: int) -> str:
    return f"{ms // 1000} s" if ms % 1000 == 0 else f"{ms / 1000:g} s"
