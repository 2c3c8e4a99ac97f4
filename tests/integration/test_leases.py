"""One active projection per store, hot standbys, and schema creation one at a time."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from uuid import uuid4

import pytest

from adapters.event_log import StoredEventLog
from adapters.leases import ProjectionLease, creating_schema
from adapters.read_model_store import open_read_model
from adapters.stores import Storage
from application.service import OutdialService
from projections import runner as runner_module
from projections.runner import LiveProjection
from tests.conftest import eventually, new_target, throughout
from tests.integration.conftest import caught_up


class CountedLease(ProjectionLease):
    """The lease, counting how often its projection asked for it."""

    asked = 0

    def try_acquire(self) -> bool:
        self.asked += 1
        return super().try_acquire()


def _projection(storage: Storage, events: StoredEventLog) -> LiveProjection:
    projection = LiveProjection(open_read_model(storage, events), lease=CountedLease(storage))
    projection.start()
    return projection


def _asked(projection: LiveProjection) -> int:
    assert isinstance(projection.lease, CountedLease)
    return projection.lease.asked


def test_one_projection_is_active_and_a_standby_takes_over_when_it_goes(
    stored_service: OutdialService,
    events: StoredEventLog,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner_module, "STANDBY_RETRY_S", 0.05)  # a standby asks often
    first, second = _projection(storage, events), _projection(storage, events)
    try:
        eventually(lambda: first.active or second.active, what="active")
        active, standby = (first, second) if first.active else (second, first)
        asked = _asked(standby)
        eventually(lambda: _asked(standby) >= asked + 3, what="asked again")
        assert [first.active, second.active].count(True) == 1
        assert active.active
        customer = uuid4()
        outdial = stored_service.create_outdial(customer).value
        stored_service.create_target(customer, outdial.id, new_target("+821100000001"))
        assert caught_up(active.read_model)
        status = standby.read_model.status()
        assert status is not None
        assert status.holder == active.holder
        active.stop()  # the lease goes with it
        eventually(lambda: standby.active, timeout=5.0, what="taken over")
        stored_service.create_target(customer, outdial.id, new_target("+821100000001"))
        assert caught_up(standby.read_model)
    finally:
        for projection in (first, second):
            projection.stop()
            projection.read_model.close()


def test_schema_creation_waits_for_another_process_holding_it(storage: Storage) -> None:
    entered: list[str] = []
    with creating_schema(storage):
        other = threading.Thread(target=lambda: _enter(storage, entered))
        other.start()
        # The wait is the behaviour: the second one stays outside while the first holds it.
        throughout(lambda: other.is_alive() and entered == [], seconds=0.3)
    other.join(timeout=10)
    assert entered == ["second"]


def _enter(storage: Storage, entered: list[str]) -> None:
    with creating_schema(storage):
        entered.append("second")


def test_a_database_that_cannot_be_reached_is_one_line_and_exit_2_within_15_s() -> None:
    for url, named in [
        ("postgresql://postgres@127.0.0.1:5432/no_such_database_here", "no_such_database_here"),
        ("postgresql://postgres@127.0.0.1:1/test", "127.0.0.1:1"),
    ]:
        began = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", "verify", "--database-url", url],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert time.monotonic() - began < 15
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert named in lines[0]
        assert "cannot use PostgreSQL at 127.0.0.1" in lines[0]
