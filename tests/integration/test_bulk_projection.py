"""The bulk path of the projection: a run of new targets goes out as one statement, with
exactly the rows the one-event path writes, and still exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from adapters.event_log import StoredEventLog
from application.service import OutdialService
from projections import projection as projection_module
from projections import targets as targets_module
from projections.applier import Handover
from projections.events import Notified
from projections.projection import ReadModelProjection, apply_events
from projections.rebuild import catch_up
from projections.store import ReadModelView
from projections.verify import verify
from tests.conftest import FakeClock, new_target
from tests.integration.conftest import all_rows, campaign_day


def _every_event(events: StoredEventLog) -> list[Notified]:
    return list(events.read(0, limit=10_000))


def _emptied(view: ReadModelView, events: StoredEventLog) -> None:
    with view.replacing(events.name, lambda: 0):
        pass


def test_runs_of_new_targets_among_other_events_give_the_rows_of_one_event_at_a_time(
    stored_service: OutdialService,
    events: StoredEventLog,
    view: ReadModelView,
    clock: FakeClock,
    customer: UUID,
) -> None:
    ids = campaign_day(stored_service, clock, customer)
    # More runs: new targets right after other events, and events on them in the same batch.
    more = stored_service.create_targets(
        customer,
        ids["outdial"],
        [new_target("+821100000011", name="x"), new_target(None, "+82110000012")],
    ).value
    stored_service.start_dial(customer, ids["outdial"], more[0].id)
    stored_service.create_target(customer, ids["outdial"], new_target("+821100000013"))
    stored_service.delete_target(customer, ids["outdial"], more[1].id)
    notified = _every_event(events)
    assert sum(type(e).__name__ == "Created" for _, e in notified) >= 7
    projection = ReadModelProjection(view)
    for position, event in notified:  # the one-event path: a transaction each
        projection.process_event(event, Tracking(events.name, position))
    one_by_one = all_rows(view)
    assert len(one_by_one["targets"]) == 8
    assert len(one_by_one["do_not_call"]) == 3
    # Seoul first and later, New York first, the toll-free set later, and the window's own
    # zone first (a SIP address) and later (a number in no zone).
    assert len(one_by_one["outdial_zone_sets"]) == 6
    assert len(one_by_one["do_not_call_prefix_lengths"]) == 1  # +1212
    _emptied(view, events)
    projection.process_events(
        [e for _, e in notified], Tracking(events.name, notified[-1][0]), after=0
    )
    assert all_rows(view) == one_by_one
    assert verify(events, view)[1] == []
    _emptied(view, events)
    with view.replacing(events.name, lambda: notified[-1][0]) as (rows, _):  # a rebuild's
        apply_events([e for _, e in notified], rows)
    assert all_rows(view) == one_by_one


def test_a_batch_of_new_targets_that_crashed_or_is_replayed_applies_nothing_twice(
    stored_service: OutdialService,
    events: StoredEventLog,
    view: ReadModelView,
    customer: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outdial = stored_service.create_outdial(customer).value
    batch = [new_target(f"+8211000{n:05d}") for n in range(50)]
    stored_service.create_targets(customer, outdial.id, batch)
    notified = _every_event(events)
    projection = ReadModelProjection(view)
    projection.process_events([notified[0][1]], Tracking(events.name, notified[0][0]), after=0)
    before = all_rows(view)
    real = targets_module.targets_created

    def crash_after_writing(rows: Any, created: Sequence[Any]) -> None:
        real(rows, created)  # the rows are written...
        msg = "process died before the tracking commit"
        raise RuntimeError(msg)  # ...and the transaction dies before it commits

    monkeypatch.setattr(projection_module, "targets_created", crash_after_writing)
    rest = [e for _, e in notified[1:]]
    last = Tracking(events.name, notified[-1][0])
    with pytest.raises(RuntimeError):
        projection.process_events(rest, last, after=notified[0][0])
    assert all_rows(view) == before
    monkeypatch.setattr(projection_module, "targets_created", real)
    projection.process_events(rest, last, after=notified[0][0])
    applied = all_rows(view)
    assert len(applied["targets"]) == 50
    with pytest.raises(IntegrityError):  # the same batch again, as after a crash
        projection.process_events(rest, last, after=notified[0][0])
    assert all_rows(view) == applied
    assert catch_up(events, view) == 0  # already applied: nothing
    assert all_rows(view) == applied
    assert verify(events, view)[1] == []


def test_catch_up_applies_handed_over_events_next_in_line_and_reads_the_rest(
    stored_service: OutdialService,
    events: StoredEventLog,
    view: ReadModelView,
    customer: UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handover = Handover()
    outdial = stored_service.create_outdial(customer).value  # not applied, not handed over
    stored_service.on_recorded(handover.put)
    stored_service.create_targets(customer, outdial.id, [new_target("+821100000001")] * 3)
    # Not next in line (the outdial's event is before them): read from the log.
    assert catch_up(events, view, handover=handover) == 4
    stored_service.create_targets(customer, outdial.id, [new_target("+821100000002")] * 3)
    stored_service.create_targets(customer, outdial.id, [new_target("+821100000003")] * 3)
    reads: list[int] = []
    real_read = events.read

    def counted_read(after: int, *, limit: int, until: int | None = None) -> Any:
        reads.append(after)
        return real_read(after, limit=limit, until=until)

    monkeypatch.setattr(events, "read", counted_read)
    assert catch_up(events, view, handover=handover) == 6
    assert reads == []  # applied as they were handed over
    assert len(all_rows(view)["targets"]) == 9
    assert verify(events, view)[1] == []


def test_a_handover_gives_what_follows_the_position_without_a_gap() -> None:
    handover = Handover()
    handover.put([(n, f"event {n}") for n in (4, 5, 6, 8, 9)])
    assert [n for n, _ in handover.next_in_line(2, limit=10)] == []  # 3: another writer's
    assert [n for n, _ in handover.next_in_line(3, limit=2)] == [4, 5]
    assert [n for n, _ in handover.next_in_line(5, limit=10)] == [6]  # 4, 5 forgotten
    assert handover.next_in_line(6, limit=10) == []  # 7 may be another writer's: read the log
    assert [n for n, _ in handover.next_in_line(7, limit=10)] == [8, 9]
    assert handover.next_in_line(9, limit=10) == []


def test_a_handover_keeps_at_most_its_limit_dropping_the_oldest() -> None:
    handover = Handover(limit=3)
    handover.put([(n, n) for n in range(1, 6)])
    assert [n for n, _ in handover.next_in_line(2, limit=10)] == [3, 4, 5]


def test_a_handover_tells_where_a_write_of_many_events_that_comes_next_ends() -> None:
    handover = Handover()
    handover.put([(3, "alone")])
    handover.put([(n, n) for n in range(4, 9)])
    assert handover.write_after(2) == 2  # a write of one event: nothing to tell
    assert handover.write_after(3) == 8
    assert handover.write_after(6) == 8  # part of it applied already
    assert handover.write_after(8) == 8
    handover.next_in_line(5, limit=1)  # applied up to 5, 6 taken: the rest still one write
    assert handover.write_after(6) == 8
    handover.next_in_line(8, limit=10)
    assert handover.write_after(3) == 3  # applied: forgotten
