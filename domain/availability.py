"""Whether a target may be dialed now, and every rule that stops it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Blocked:
    """A rule that stops a target being dialed now."""

    rule: str  # OUTDIAL_DELETED, OUTDIAL_PAUSED, DELETED, NOT_IDLE, NO_TRIES_LEFT,
    # TRY_INTERVAL, OUTSIDE_CALLING_WINDOW, ON_DO_NOT_CALL
    message: str
    entries: tuple[UUID, ...] = ()  # ON_DO_NOT_CALL: the entries that block it


@dataclass(frozen=True)
class Availability:
    blocked_by: tuple[Blocked, ...]
    next_destination: int | None  # the destination a dial would use, when any may be
    ready_at: datetime | None  # when the try_interval ends and the window is open
    time_zones: tuple[str, ...] = ()  # the zones the calling window was judged in

    @property
    def available(self) -> bool:
        return not self.blocked_by
