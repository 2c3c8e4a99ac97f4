"""Who is calling: the customer of an API key, and failed authentication throttled per
client address, so that keys cannot be guessed at speed: after FAILURES_ALLOWED failures
(the setting auth_failures_allowed) within WINDOW_S, further requests from that address
without a valid key get 429 until the oldest failure leaves the window. A request with a
valid key is never throttled. The failures are counted in a table of the store, so every
API process of it shares one count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from ipaddress import ip_address
from typing import Protocol

from starlette.types import Scope

from api.settings import Network, parse_networks

FAILURES_ALLOWED = 20
WINDOW_S = 60.0

__all__ = ["FailedAuthentications", "client_address", "parse_networks"]


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The socket peer; or, when the peer is a trusted proxy, the nearest hop of
    X-Forwarded-For that is not one (what a client cannot forge past our own proxies)."""
    peer = (scope.get("client") or ("", 0))[0]
    if not trusted or not _is_in(peer, trusted):
        return str(peer)
    forwarded: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded += [hop.strip() for hop in value.decode("latin-1").split(",")]
    for hop in reversed(forwarded):
        if hop and not _is_in(hop, trusted):
            return hop
    return forwarded[0] if forwarded and forwarded[0] else str(peer)


def _is_in(address: str, networks: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


class FailureCount(Protocol):
    """Where failures are counted (the store's key table, adapters/keys.py)."""

    def refuse_or_count_failure(
        self, address: str, *, allowed: int, window: float, now: float
    ) -> float | None: ...


class FailedAuthentications:
    """Recent failures per client address, in the store every process shares."""

    def __init__(
        self,
        count: FailureCount,
        allowed: int = FAILURES_ALLOWED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._count = count
        self._allowed = allowed  # 0: never throttle
        self._clock = clock

    def refuse_or_count(self, address: str) -> int | None:
        """Seconds until ``address`` may try again when it has used its failures (this one
        is not counted); otherwise None, and this failure is counted."""
        if not self._allowed:
            return None
        now = self._clock()
        oldest = self._count.refuse_or_count_failure(
            address, allowed=self._allowed, window=WINDOW_S, now=now
        )
        if oldest is None:
            return None
        return max(1, math.ceil(oldest + WINDOW_S - now))
