"""Failed authentication throttled per client address, so that keys cannot be guessed
at speed: after FAILURES_ALLOWED failures (the setting auth_failures_allowed) within
WINDOW_S, further requests from that
address without a valid key get 429 until the oldest failure leaves the window. A
request with a valid key is never throttled. Counts are per process.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from starlette.types import Scope

FAILURES_ALLOWED = 20
WINDOW_S = 60.0
ADDRESSES_KEPT = 100_000  # bounded memory, whatever the number of addresses

Network = IPv4Network | IPv6Network


def parse_networks(text: str) -> list[Network]:
    """``10.0.0.0/8, 127.0.0.1`` -> networks; ValueError naming a bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(ip_network(entry, strict=False))
            except ValueError:
                msg = f"{entry!r} is not an IP address or network"
                raise ValueError(msg) from None
    return networks


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


class FailedAuthentications:
    """Recent failures per client address."""

    def __init__(
        self, allowed: int = FAILURES_ALLOWED, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._allowed = allowed  # 0: never throttle
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        with self._lock:
            recent = self._recent(address)
            if not self._allowed or recent is None or len(recent) < self._allowed:
                return None
            return max(1, math.ceil(recent[0] + WINDOW_S - self._clock()))

    def failed(self, address: str) -> None:
        with self._lock:
            recent = self._recent(address)
            if recent is None:
                recent = self._failures[address] = deque(maxlen=max(1, self._allowed))
            recent.append(self._clock())
            self._failures.move_to_end(address)
            while len(self._failures) > ADDRESSES_KEPT:
                self._failures.popitem(last=False)

    def _recent(self, address: str) -> deque[float] | None:
        recent = self._failures.get(address)
        if recent is None:
            return None
        horizon = self._clock() - WINDOW_S
        while recent and recent[0] <= horizon:
            recent.popleft()
        return recent
