"""An event the projection cannot apply is loud and contained: the projection halts just
before it (never skips it), names it, readiness and writes see it, `verify` fails while
halted there, and `rebuild` names it in one line and leaves the read model unchanged."""

from __future__ import annotations

import logging
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from adapters.event_log import StoredEventLog
from adapters.read_model_store import open_read_model
from adapters.stores import Storage
from api.cli import main
from application.service import OutdialService
from domain.target import Target
from projections import runner as runner_module
from projections.failures import EventNotApplied
from projections.rebuild import rebuild
from projections.runner import ProjectionStatus, ReadModel
from tests.conftest import eventually, new_target, tel
from tests.integration.conftest import caught_up, projected


def _where(storage: Storage) -> list[str]:
    if storage.database_url:
        return ["--database-url", storage.database_url]
    return ["--data-dir", str(storage.data_dir)]


def _record_a_broken_event(service: OutdialService) -> tuple[int, UUID]:
    """A Target.Created whose state lacks every field: what a defect of validation or of
    an upcast would leave in the log. Returns its position and aggregate."""
    aggregate = uuid4()
    topic = get_topic(Target.Created)
    service.recorder.insert_events([StoredEvent(aggregate, 1, topic, b"{}")])
    return service.recorder.max_notification_id() or 0, aggregate


def test_the_live_projection_halts_just_before_the_event_and_names_it(
    storage: Storage,
    stored_service: OutdialService,
    events: StoredEventLog,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner_module, "RESTART_BACKOFF_S", (0.01,))  # tries again at once
    customer = uuid4()
    outdial = stored_service.create_outdial(customer, name="before").value
    with projected(storage, events) as projection:
        assert caught_up(projection.read_model)
        position, aggregate = _record_a_broken_event(stored_service)
        # Good events after it, in the same batch as it and after.
        stored_service.create_targets(customer, outdial.id, [new_target("+821100000001")] * 3)
        eventually(lambda: str(projection.last_error).startswith("event "), what="named")
        error = str(projection.last_error)
        assert error == (
            f"event {position} (Target.Created of aggregate {aggregate}) cannot be "
            f"applied: AttributeError: {error.rsplit(': ', 1)[1]}"
        )
        model = projection.read_model
        eventually(lambda: model.position() == position - 1)  # all before it, nothing after
        assert projection.stuck
        caplog.clear()
        eventually(lambda: len(_halts(caplog)) >= 3, what="trying again")  # it keeps trying
        assert model.position() == position - 1  # and stays there
        assert model.status() is not None

        # verify: the rows agree with the events up to there, but the projection is halted.
        eventually(lambda: (s := _status(model)) is not None and s.failed_at == position - 1)
        assert main(["verify", *_where(storage)]) == 1
        out = capsys.readouterr().out
        assert f"the projection is halted at position {position - 1}: event {position}" in out

        # rebuild: one line naming the event, the read model unchanged.
        assert main(["rebuild", *_where(storage)]) == 1
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("outdial rebuild:")]
        assert lines == [
            f"outdial rebuild: event {position} (Target.Created of aggregate {aggregate}) "
            f"cannot be applied: {lines[0].split('cannot be applied: ')[1]}"
        ]
        assert lines[0].endswith("; the read model is unchanged")
        assert "Traceback" not in err
        assert model.position() == position - 1


def _halts(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "projection halted" in r.getMessage()]


def _status(model: ReadModel) -> ProjectionStatus | None:
    model._status_read_at = 0.0  # read it now, not as cached
    return model.status()


def test_verify_of_a_read_model_merely_behind_exits_0(
    storage: Storage, stored_service: OutdialService, events: StoredEventLog
) -> None:
    customer = uuid4()
    with projected(storage, events) as projection:
        stored_service.create_outdial(customer)
        assert caught_up(projection.read_model)
    stored_service.create_outdial(customer)  # nothing projects it
    assert main(["verify", *_where(storage)]) == 0


def test_rebuild_names_an_event_whose_rows_the_store_refuses(
    storage: Storage, stored_service: OutdialService, events: StoredEventLog
) -> None:
    """A failure while writing out a batch of rows is traced to its event."""
    customer = uuid4()
    outdial = stored_service.create_outdial(customer).value
    stored_service.create_targets(customer, outdial.id, [new_target("+821100000001")] * 20)
    # Accepted before the text rule: a name with NUL, which PostgreSQL text cannot hold.
    # Recorded straight by the domain, as an old event in the log would be.
    target = Target._create(
        Target.Created,
        id=uuid4(),
        timestamp=stored_service.clock(),
        outdial_id=outdial.id,
        customer_id=customer,
        name="a\x00b",
        detail="",
        data="",
        destinations=[tel(), None, None, None, None],
    )
    position = stored_service.save(target)[-1].notification.id
    stored_service.create_targets(customer, outdial.id, [new_target("+821100000001")] * 20)
    read_model = open_read_model(storage, events)
    try:
        view = read_model.view
        if storage.database_url:
            with pytest.raises(EventNotApplied) as raised:
                rebuild(events, view)
            assert raised.value.position == position
            assert raised.value.aggregate_id == str(target.id)
        else:  # SQLite holds NUL: nothing to refuse
            assert rebuild(events, view) == (stored_service.recorder.max_notification_id() or 0)
    finally:
        read_model.close()
