"""Whether a target may be dialed now, and every rule that stops it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Blocked:
    """A rule that stops a target being dialed now."""

    rule: str  # OUTDIAL_DELETED, DELETED, NOT_IDLE, NO_TRIES_LEFT, TRY_INTERVAL
    message: str


@dataclass(frozen=True)
class Availability:
    blocked_by: tuple[Blocked, ...]
    next_destination: int | None  # the destination a dial would use, when any has tries
    ready_at: datetime | None  # when the try_interval after the last dial ends

    @property
    def available(self) -> bool:
        return not self.blocked_by
