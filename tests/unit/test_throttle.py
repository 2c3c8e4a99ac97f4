"""Who the client is behind trusted proxies, and the failure window."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.keys import ApiKeys, SQLiteKeyTable
from api.access import (
    FAILURES_ALLOWED,
    WINDOW_S,
    FailedAuthentications,
    client_address,
    parse_networks,
)


def scope(peer: str, forwarded: str | None = None) -> dict[str, Any]:
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    return {"client": (peer, 5000), "headers": headers}


def test_the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    trusted = parse_networks("10.0.0.0/8, 192.168.1.1")
    assert client_address(scope("203.0.113.9", "1.2.3.4"), trusted) == "203.0.113.9"
    assert client_address(scope("203.0.113.9", "1.2.3.4"), []) == "203.0.113.9"
    # Behind our proxies: the nearest hop that is not one of them.
    assert client_address(scope("10.1.1.1", "1.2.3.4"), trusted) == "1.2.3.4"
    assert client_address(scope("10.1.1.1", "6.6.6.6, 1.2.3.4, 192.168.1.1"), trusted) == (
        "1.2.3.4"
    )  # what the client wrote itself (6.6.6.6) is not believed
    assert client_address(scope("10.1.1.1"), trusted) == "10.1.1.1"


def test_a_bad_trusted_proxy_entry_is_named() -> None:
    with pytest.raises(ValueError, match=r"'proxy\.example' is not an IP address"):
        parse_networks("10.0.0.0/8, proxy.example")


def test_failures_leave_the_window_after_60_s() -> None:
    now = [1000.0]
    failures = FailedAuthentications(ApiKeys(SQLiteKeyTable.in_memory()), clock=lambda: now[0])
    for _ in range(FAILURES_ALLOWED - 1):
        assert failures.refuse_or_count("a") is None
        now[0] += 1
    assert failures.refuse_or_count("a") is None  # the last one allowed
    assert failures.refuse_or_count("b") is None  # per address
    wait = failures.refuse_or_count("a")
    assert wait is not None
    assert wait == WINDOW_S - (FAILURES_ALLOWED - 1)
    now[0] += wait
    assert failures.refuse_or_count("a") is None
