"""Event time within one aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Events of one aggregate are at least this far apart, whatever the hosts' clocks say,
# so that ordering by time and "state at time T" are exact.
TICK = timedelta(microseconds=1)


def event_time(previous: datetime, now: datetime) -> datetime:
    """The time of the next event: now, or just after the previous event if the clock lags."""
    return max(now, previous + TICK)


# The wire and read-model form of "not deleted".
NOT_DELETED = "9999-01-01 00:00:00.000000"


def format_timestamp(moment: datetime | None) -> str:
    """UTC ``YYYY-MM-DD HH:MM:SS.ffffff``; None (not deleted) is the sentinel."""
    if moment is None:
        return NOT_DELETED
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def parse_timestamp(text: str) -> datetime:
    """Read a wire timestamp (or ISO 8601 with a zone); naive times are UTC."""
    moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
