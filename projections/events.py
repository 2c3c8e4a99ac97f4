"""The port the projections read events through: the event store's notification log.

Projections own this small interface instead of reaching for the application: whoever
wires the process passes something that reads the log and decodes each notification
into the domain's own event (the application's stored-event log does).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

# A domain event with the notification id it was recorded under.
Notified = tuple[int, Any]

PAGE = 1_000


class EventLog(Protocol):
    @property
    def name(self) -> str:
        """The application's name, which keys the read model's tracking position."""

    def head(self) -> int:
        """The last notification id recorded (0 when the log is empty)."""

    def read(self, after: int, *, limit: int, until: int | None = None) -> Sequence[Notified]:
        """Up to ``limit`` events after position ``after`` (and up to ``until``), in order.

        Notification ids may have gaps (PostgreSQL): never assume they are contiguous.
        """

    def wait_for_append(self, timeout: float) -> None:
        """Return when events may have been appended since the last call, or at timeout."""

    def wake(self) -> None:
        """Make a ``wait_for_append`` going on return now (the reader is stopping)."""

    def describe(self, after: int) -> tuple[int, str, str] | None:
        """(position, aggregate id, topic) of the event after ``after``, read without
        decoding it (for naming one that cannot be decoded); None at the head."""

    def aggregates(self, until: int) -> AbstractContextManager[Iterator[list[Any]]]:
        """Every aggregate's events up to position ``until``, one list per aggregate in
        the order of their ids (as text), each oldest first; streamed, so any number of
        aggregates fits in constant memory."""


def events_until(log: EventLog, until: int, after: int = 0) -> Iterator[Notified]:
    """Every event after position ``after`` up to ``until``, read a page at a time."""
    start = after
    while start < until:
        page = log.read(start, limit=PAGE, until=until)
        if not page:
            return
        yield from page
        start = page[-1][0]
