"""Tables in the documentation that mirror the code are checked against it, so they
cannot drift: the error reasons (api/problems.py) in docs/api.md."""

from __future__ import annotations

import re
from pathlib import Path

from api.problems import REASONS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("domain", "application", "adapters", "projections", "api")
# Reasons the code names that no caller meets: a base class's default, the sweeper's own
# refusal to time out a dial early, a framework error's fallback, a page's refusal.
INTERNAL = {"NOT_FOUND", "FAILED_PRECONDITION", "DIAL_NOT_TIMED_OUT", "FORBIDDEN"}


def reasons_table() -> str:
    lines = ["| reason | HTTP | `status` | when |", "|---|---|---|---|"]
    lines += [f"| `{r}` | {code} | `{status}` | {when} |" for r, code, status, when in REASONS]
    return "\n".join(lines)


def test_the_api_documents_every_reason_as_the_code_lists_it() -> None:
    table = reasons_table()
    assert table in (ROOT / "docs" / "api.md").read_text(), (
        "docs/api.md's table of reasons differs from api/problems.py REASONS; it should "
        f"read:\n\n{table}\n"
    )


def test_every_reason_the_code_gives_is_listed() -> None:
    named = set()
    patterns = (
        r'reason\s*=\s*"([A-Z_]+)"',
        r'(?:Problem|Unavailable|Unauthenticated)\(\s*(?:\d+,\s*)?"([A-Z_]+)"',
        r'"(PROJECTION_[A-Z_]+)"',
    )
    for package in SOURCES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            for pattern in patterns:
                named.update(re.findall(pattern, text))
    listed = {reason for reason, *_ in REASONS}
    assert named - INTERNAL <= listed
    assert listed <= named | {"INVALID_ID", "INVALID_JSON_BODY", "ROUTE_NOT_FOUND"}
