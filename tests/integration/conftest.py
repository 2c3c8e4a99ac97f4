"""Integration tests run on both stores (the ``storage`` fixture): a SQLite data directory
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from adapters.event_log import StoredEventLog
from adapters.read_model_store import open_read_model, open_store
from adapters.stores import Storage
from application.service import NewEntry, NewTarget, OutdialService
from domain.address import Address
from domain.calling_window import CallingWindow
from projections.runner import LiveProjection, ReadModel
from projections.schema import COLUMNS, key_of
from projections.store import ReadModelView
from tests.conftest import FakeClock, new_target

NONE = (None, None, None)
# Open at every hour of every day, judged in each number's own zones.
ALWAYS = CallingWindow.parse(
    {
        "time_zone": "Asia/Seoul",
        "hours": [{"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "24:00"}],
    }
)

WAIT = 10.0


@pytest.fixture
def stored_service(storage: Storage, clock: FakeClock) -> Iterator[OutdialService]:
    """The application on the test's store (``storage``: SQLite, then PostgreSQL)."""
    service = OutdialService(storage.event_store_env(), clock=clock)
    yield service
    service.close()


@pytest.fixture
def events(stored_service: OutdialService, storage: Storage) -> Iterator[StoredEventLog]:
    log = StoredEventLog(stored_service, storage)
    yield log
    log.close()


@pytest.fixture
def view(storage: Storage) -> Iterator[ReadModelView]:
    """The store's read-model tables, with no projection running."""
    opened = open_store(storage)
    yield opened
    opened.close()


@contextmanager
def projected(storage: Storage, events: StoredEventLog) -> Iterator[LiveProjection]:
    """The store's read model with a live projection running, as a process would have."""
    projection = LiveProjection(open_read_model(storage, events))
    projection.start()
    try:
        yield projection
    finally:
        projection.stop()
        projection.read_model.close()


@pytest.fixture
def projection(storage: Storage, events: StoredEventLog) -> Iterator[LiveProjection]:
    with projected(storage, events) as running:
        yield running


@pytest.fixture
def read_model(projection: LiveProjection) -> ReadModel:
    return projection.read_model


def caught_up(read_model: ReadModel, timeout: float = WAIT) -> bool:
    """Wait until the read model has applied every event recorded so far."""
    return read_model.wait_until_applied(read_model.head(), timeout)


def all_rows(view: ReadModelView) -> dict[str, list[dict[str, Any]]]:
    with view.reading() as rows:
        return {
            t: rows.select(f"SELECT * FROM {t} ORDER BY {', '.join(key_of(t))}", {})
            for t in COLUMNS
        }


def campaign_day(service: OutdialService, clock: FakeClock, customer: UUID) -> dict[str, UUID]:
    """A representative mix of every command, returning ids worth looking at."""
    outdial = service.create_outdial(customer, name="Q1", detail="spring list").value
    service.change_outdial_plan(customer, outdial.id, {"max_try_count_0": 2, "try_interval": 1_000})
    service.change_outdial_data(customer, outdial.id, "vip")
    targets = service.create_targets(
        customer,
        outdial.id,
        [
            new_target("+821100000001", "+821100000002"),
            new_target("+821100000003"),
            new_target("+821100000004"),
        ],
    ).value
    first, second, third = (t.id for t in targets)
    dial = service.start_dial(customer, outdial.id, first).value
    clock.advance(seconds=3)
    service.finish_dial(customer, outdial.id, first, dial.id, result="fail", reason="busy")
    clock.advance(seconds=2)
    dial = service.start_dial(
        customer, outdial.id, first, destination_index=1, reference_id="call-7"
    ).value
    service.finish_dial(customer, outdial.id, first, dial.id, result="success", reason="normal")
    timed_out = service.start_dial(
        customer, outdial.id, second, plan_changes={"dial_timeout": 1_000}
    ).value
    clock.advance(seconds=2)
    service.time_out_dial(second, timed_out.id)
    service.finish_dial(
        customer, outdial.id, second, timed_out.id, result="success", reason="late answer"
    )
    service.start_dial(customer, outdial.id, third)
    service.delete_target(customer, outdial.id, third)
    other = service.create_outdial(customer, name="gone").value
    service.delete_outdial(customer, other.id)
    # The contact rules: a pause, a calling window a dial is judged in, the do-not-call
    # list's entries added, changed, removed and added again.
    rules = service.create_outdial(customer, name="rules").value
    service.pause_outdial(customer, rules.id, reason="complaint")
    service.resume_outdial(customer, rules.id)
    service.pause_outdial(customer, rules.id)
    service.change_calling_window(customer, outdial.id, ALWAYS)
    windowed = service.create_targets(
        customer,
        outdial.id,
        [
            NewTarget([Address("whatsapp", "+12125550100"), Address("tel", "+18005550100"), *NONE]),
            NewTarget([Address("sip", "ops@example.com"), Address("tel", "+999123456789"), *NONE]),
        ],
    ).value
    service.start_dial(customer, outdial.id, windowed[0].id)
    added = service.add_do_not_call(
        customer,
        [
            NewEntry("+1212", match="prefix", reason="state list"),
            NewEntry("ops@example.com", outdial_id=outdial.id),
            NewEntry("+821100000009", expires_at=clock.now + timedelta(days=30), keep_expiry=False),
        ],
    ).value
    service.add_do_not_call(customer, [NewEntry("+1212", match="prefix", reason="updated")])
    service.remove_do_not_call(customer, added[1].id)
    service.remove_do_not_call(customer, added[2].id)
    service.add_do_not_call(customer, [NewEntry("+821100000009")])  # added again
    return {
        "outdial": outdial.id,
        "first": first,
        "second": second,
        "third": third,
        "rules": rules.id,
        "windowed": windowed[0].id,
        "entry": added[0].id,
    }
