"""How a process hears of another's appends on PostgreSQL: a LISTEN connection that
wakes its readers on each NOTIFY, notices the server dropping it and listens again, and
lets go at once when closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.sql import SQL, Composed, Identifier

from adapters.append_signal import AppendSignal
from adapters.library import notify_channel
from adapters.stores import Storage
from application.service import OutdialService
from tests.conftest import eventually


@pytest.fixture
def signal(postgres_storage: Storage) -> Iterator[tuple[AppendSignal, str]]:
    service = OutdialService(postgres_storage.event_store_env())
    channel = notify_channel(service.recorder)
    assert channel is not None
    listening = AppendSignal(service.recorder, postgres_storage)
    eventually(lambda: _listener(postgres_storage), what="the LISTEN connection")
    yield listening, channel
    listening.close()
    service.close()


def _run(storage: Storage, sql: Composed | str) -> list[tuple[object, ...]]:
    assert storage.database_url
    with psycopg.connect(storage.database_url, autocommit=True) as connection:
        cursor = connection.execute(sql)
        return cursor.fetchall() if cursor.description else []


def _listener(storage: Storage) -> int | None:
    rows = _run(
        storage,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND query LIKE 'LISTEN%'",
    )
    return int(rows[0][0]) if rows else None  # type: ignore[call-overload]


def _heard(signal: AppendSignal, storage: Storage, channel: str) -> bool:
    """Whether a NOTIFY from another connection wakes a reader within a second."""
    signal.wait(0)  # what was set before is not this
    woken = threading.Event()

    def reader() -> None:
        signal.wait(1.0)
        woken.set()

    began = time.monotonic()
    waiting = threading.Thread(target=reader)
    waiting.start()
    _run(storage, SQL("NOTIFY {0}").format(Identifier(channel)))
    waiting.join()
    return woken.is_set() and time.monotonic() - began < 0.9


def test_another_connections_notify_wakes_a_reader(
    signal: tuple[AppendSignal, str], postgres_storage: Storage
) -> None:
    listening, channel = signal
    assert _heard(listening, postgres_storage, channel)
    assert _heard(listening, postgres_storage, channel)  # and again: it listens on


def test_a_dropped_connection_is_noticed_and_listened_on_again(
    signal: tuple[AppendSignal, str], postgres_storage: Storage
) -> None:
    listening, channel = signal
    first = _listener(postgres_storage)
    _run(postgres_storage, f"SELECT pg_terminate_backend({first})")
    eventually(
        lambda: (_listener(postgres_storage) or first) != first, what="a new LISTEN connection"
    )
    assert listening.reachable
    assert _heard(listening, postgres_storage, channel)


def test_closing_lets_go_at_once(signal: tuple[AppendSignal, str]) -> None:
    listening, _ = signal
    began = time.monotonic()
    listening.close()
    assert time.monotonic() - began < 0.5
