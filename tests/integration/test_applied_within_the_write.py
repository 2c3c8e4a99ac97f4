"""On PostgreSQL the read model shares the event store's database: the live projection
applies a write's events in the write's own transaction (one commit for both), and
whatever it cannot apply there is applied after, as before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from adapters.event_log import StoredEventLog
from adapters.read_model_store import open_read_model
from adapters.stores import Storage
from adapters.target_keys import open_target_keys
from application.service import OutdialService
from domain.erasure import Erasure
from domain.timeline import NOT_DELETED
from projections import projection as projection_module
from projections.projection import ReadModelProjection
from projections.runner import LiveProjection
from projections.verify import verify
from tests.conftest import new_target

pytestmark = pytest.mark.postgres


@pytest.fixture
def store() -> str:
    return "postgres"


@pytest.fixture
def stored_service(postgres_storage: Storage) -> Iterator[OutdialService]:
    """The application on the store, sealing (an erasure needs keys to destroy)."""
    keys = open_target_keys(postgres_storage)
    opened = OutdialService(postgres_storage.event_store_env(), keys=keys)
    yield opened
    opened.close()
    keys.close()


@pytest.fixture
def service(stored_service: OutdialService) -> OutdialService:
    return stored_service


@pytest.fixture
def projection(
    service: OutdialService, events: StoredEventLog, postgres_storage: Storage
) -> Iterator[LiveProjection]:
    """The active projection of the process, wired as the projection worker wires it, but
    with no thread of its own: nothing applies events unless a test says so."""
    read_model = open_read_model(postgres_storage, events)
    projection = LiveProjection(read_model)
    projection.active = True
    projection.apply_until(read_model.head())  # where the read model is
    service.on_recorded(projection.hand_over)
    service.commits.applying_within = projection.apply_within
    yield projection
    read_model.close()


def test_a_write_is_in_the_read_model_when_its_transaction_commits(
    service: OutdialService, projection: LiveProjection, events: StoredEventLog
) -> None:
    customer = uuid4()
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001"))
    # No applier ran: the write's own transaction applied it.
    assert projection.read_model.position() == target.position
    queries = projection.read_model.queries
    assert queries.get_target(customer, outdial.id, target.value.id) is not None
    service.start_dial(customer, outdial.id, target.value.id)
    assert projection.read_model.position() == events.head()
    assert verify(events, projection.read_model.view)[1] == []


@pytest.mark.parametrize("failure", ["python", "sql"])
def test_what_fails_in_the_write_is_rolled_back_alone_and_applied_after(
    service: OutdialService,
    projection: LiveProjection,
    events: StoredEventLog,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    """The write commits whatever its read model part did; that part leaves nothing."""
    customer = uuid4()
    outdial = service.create_outdial(customer).value
    before = projection.read_model.position()
    process_within = ReadModelProjection.process_within

    def failing(self: ReadModelProjection, cursor: Any, *args: Any, **kwargs: Any) -> None:
        process_within(self, cursor, *args, **kwargs)  # its rows written, then
        if failure == "sql":
            cursor.execute("SELECT 1 / 0")
        msg = "the read model failed"
        raise RuntimeError(msg)

    monkeypatch.setattr(ReadModelProjection, "process_within", failing)
    target = service.create_target(customer, outdial.id, new_target("+821100000001"))
    assert projection.read_model.position() == before
    assert _target_row(projection, customer, outdial.id, target.value.id) is None
    assert service.get_target(customer, outdial.id, target.value.id).version == 1
    monkeypatch.undo()
    projection.apply_until(target.position or 0)
    assert _target_row(projection, customer, outdial.id, target.value.id) is not None
    assert verify(events, projection.read_model.view)[1] == []


def test_a_write_not_next_in_line_is_applied_after_the_one_before_it(
    service: OutdialService,
    projection: LiveProjection,
    events: StoredEventLog,
    postgres_storage: Storage,
) -> None:
    """Another process's write lies between: this one waits for the projection."""
    customer = uuid4()
    another = OutdialService(postgres_storage.event_store_env())
    try:
        theirs = another.create_outdial(customer, name="theirs")
        mine = service.create_outdial(customer, name="mine")
    finally:
        another.close()
    assert (projection.read_model.position() or 0) == (theirs.position or 0) - 1
    projection.apply_until(mine.position or 0)
    assert projection.read_model.position() == mine.position
    assert verify(events, projection.read_model.view)[1] == []


def test_an_erasure_is_applied_in_a_transaction_of_its_own(
    service: OutdialService, projection: LiveProjection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before anything is written: its rows are blanked once, in its own."""
    customer = uuid4()
    outdial = service.create_outdial(customer).value
    target = service.create_target(customer, outdial.id, new_target("+821100000001"))
    erased: list[Any] = []
    projection.read_model.view.on_erasure = erased.append
    applied: list[list[type]] = []
    apply_events = projection_module.apply_events

    def noted(domain_events: Any, rows: Any) -> None:
        applied.append([type(event) for event in domain_events])
        apply_events(domain_events, rows)

    monkeypatch.setattr(projection_module, "apply_events", noted)
    erasure = service.erase_targets(customer, [target.value.id], reason="asked")
    assert projection.read_model.position() == target.position  # not within
    assert applied == []
    projection.apply_until(erasure.position or 0)
    assert sum(Erasure.Recorded in types for types in applied) == 1
    assert len(erased) == 1  # told once: what it told was not rolled back and told again
    row = _target_row(projection, customer, outdial.id, target.value.id)
    assert isinstance(row, dict)
    assert (row["address_0"], row["tm_delete"] != NOT_DELETED) == ("", True)


def _target_row(
    projection: LiveProjection, customer: UUID, outdial: UUID, target: UUID
) -> object | None:
    return projection.read_model.queries.get_target(customer, outdial, target)
