"""An event the projection cannot apply: named, so the one line that reports it says
which event (position, aggregate, type) and why.

The projection halts there: skipping it would make the read model disagree with the
events for good and break exactly-once. A store that is merely unreachable is not such
an event; the projection waits for it and carries on.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

# Errors of a store that is down, busy or locked: a reason to wait, not a bad event.
STORE_UNREACHABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
)


class EventNotApplied(Exception):
    """The event at ``position`` cannot be applied to the read model."""

    def __init__(self, position: int, aggregate_id: str, kind: str, cause: BaseException) -> None:
        self.position = position
        self.aggregate_id = aggregate_id
        self.kind = kind
        self.cause = f"{type(cause).__name__}: {cause}".splitlines()[0]
        super().__init__(
            f"event {position} ({kind} of aggregate {aggregate_id}) cannot be applied: {self.cause}"
        )


def unreachable(error: BaseException) -> bool:
    """The store failed, not the event (try again later, blame no event)."""
    return isinstance(error, STORE_UNREACHABLE)


def describe(event: Any) -> tuple[str, str]:
    """(aggregate id, event type) of a decoded domain event."""
    return str(getattr(event, "originator_id", "?")), type(event).__qualname__
