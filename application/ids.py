"""Ids the service makes for what it creates, when the caller names none."""

from __future__ import annotations

import secrets
import time
from typing import Protocol
from uuid import UUID, uuid4, uuid5


def sorted_random_id() -> UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix time in milliseconds, then 74 random bits.

    Ids made one after another sort together, so a batch's rows land side by side in
    every index keyed by id, where uuid4's would put each on a page of its own, which the
    commit then writes out again.
    """
    millis = time.time_ns() // 1_000_000
    rest = secrets.randbits(74)
    return UUID(
        int=(millis & (2**48 - 1)) << 80
        | 0x7 << 76
        | (rest >> 62) << 64
        | 0b10 << 62
        | (rest & (2**62 - 1))
    )


class IdSource(Protocol):
    """Where a command gets the ids of what it creates."""

    @property
    def repeatable(self) -> bool:
        """Whether these ids may have been handed out before, to a run of the same request
        that may have recorded what it created: the command then answers that instead of
        creating it again."""
        ...

    def outdial_id(self) -> UUID: ...

    def erasure_id(self) -> UUID: ...

    def target_id(self, n: int) -> UUID:
        """The id of the ``n``-th target a command creates."""
        ...

    def dial_id(self, n: int | None = None) -> UUID:
        """The id of a dial: the one of a start, or the ``n``-th of a dispatch."""
        ...


class NewIds:
    """Fresh ids, never handed out before: targets' sort by time."""

    repeatable = False

    def outdial_id(self) -> UUID:
        return uuid4()

    def erasure_id(self) -> UUID:
        return sorted_random_id()

    def target_id(self, n: int) -> UUID:
        return sorted_random_id()

    def dial_id(self, n: int | None = None) -> UUID:
        return uuid4()


NEW_IDS = NewIds()


class SeededIds:
    """The ids a request with an ``Idempotency-Key`` creates, derived from the seed its
    claim holds: run again after its process died, it asks for the same ids and finds what
    the first run recorded. The names are part of stored claims: never change them."""

    repeatable = True

    def __init__(self, seed: UUID) -> None:
        self._seed = seed

    def outdial_id(self) -> UUID:
        return uuid5(self._seed, "outdial")

    def erasure_id(self) -> UUID:
        return uuid5(self._seed, "erasure")

    def target_id(self, n: int) -> UUID:
        return uuid5(self._seed, f"target/{n}")

    def dial_id(self, n: int | None = None) -> UUID:
        return uuid5(self._seed, "dial" if n is None else f"dial/{n}")
