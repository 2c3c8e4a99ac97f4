"""Ids the service makes for what it creates, when the caller names none."""

from __future__ import annotations

import secrets
import time
from uuid import UUID


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
