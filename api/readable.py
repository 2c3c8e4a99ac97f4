"""Wire values as people read them, for the terminal and the pages alike: an address as
``type:target``, text as it is, anything else as compact JSON."""

from __future__ import annotations

import json
from typing import Any

# Fields every event changes, which say nothing of what happened.
QUIET_FIELDS = frozenset({"tm_update"})
# What a dial's events say beyond the state they change.
SAID_BY_EVENT = {
    "DialStarted": ("destination", "try_count", "reference_id", "manual", "dial_id"),
    "DialFinished": ("result", "reason", "timed_out", "late", "dial_id"),
}


def readable(wired: Any) -> str:
    if isinstance(wired, dict) and {"type", "target"} <= set(wired):
        return f"{wired['type']}:{wired['target']}"
    if isinstance(wired, str):
        return wired if wired else '""'
    return json.dumps(wired, ensure_ascii=False, separators=(",", ":"))


def said_by(event: dict[str, Any]) -> list[tuple[str, str]]:
    """What a replayed event says of itself (a dial's destination, try, result...)."""
    return [
        (name, readable(event["data"][name]))
        for name in SAID_BY_EVENT.get(event["type"], ())
        if event["data"].get(name) not in (None, "", False)
    ]


def changed(step: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """The fields a replay step changed, as (field, old or None, new), quiet ones left out."""
    return [
        (field, None if old is None else readable(old), readable(new))
        for field, (old, new) in step["changes"].items()
        if field not in QUIET_FIELDS
    ]
