"""What the property tests draw retry rules from: reasons in any case, and rules in their
wire form."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def cased(reasons: list[str]) -> st.SearchStrategy[str]:
    """One of ``reasons`` as written, in capitals or title case: rules match in any case."""
    return st.builds(
        lambda reason, case: case(reason),
        st.sampled_from(reasons),
        st.sampled_from([str, str.upper, str.title]),
    )


def wired(specs: list[tuple[str, str, int | None]]) -> list[dict[str, Any]]:
    """Retry rules in their wire form, none after "*" (it would never match)."""
    rules: list[dict[str, Any]] = []
    for reason, action, interval in specs:
        rule: dict[str, Any] = {"reason": reason, "action": action}
        if action == "retry" and interval is not None:
            rule["retry_interval"] = interval
        rules.append(rule)
        if reason == "*":
            break
    return rules
