"""What a command answers: its result, and where its events landed in the log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Written(Generic[T]):
    """The result of a command and the notification id of the last event it recorded.

    ``position`` is None when the command recorded nothing (a repeated finish or delete),
    so a caller waiting for the read model to show the write has nothing to wait for.
    """

    value: T
    position: int | None


def latest(*positions: int | None) -> int | None:
    """The furthest of some positions, ignoring those that recorded nothing."""
    known = [p for p in positions if p is not None]
    return max(known) if known else None
