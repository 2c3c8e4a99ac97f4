"""Event time within one aggregate."""

from __future__ import annotations

from datetime import datetime, timedelta

# Events of one aggregate are at least this far apart, whatever the hosts' clocks say,
# so that ordering by time and "state at time T" are exact.
TICK = timedelta(microseconds=1)


def event_time(previous: datetime, now: datetime) -> datetime:
    """The time of the next event: now, or just after the previous event if the clock lags."""
    return max(now, previous + TICK)
