"""Property: after any command sequence, the incrementally projected read model equals
the replay of the events, on the embedded store."""

from __future__ import annotations

import tempfile
from contextlib import suppress
from pathlib import Path
from uuid import UUID, uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.event_log import StoredEventLog
from adapters.read_model_store import open_read_model
from adapters.stores import Storage
from application.errors import REFUSALS
from application.service import OutdialService
from projections.rebuild import catch_up
from projections.verify import verify
from tests.conftest import FakeClock, examples, new_target

command = st.one_of(
    st.tuples(st.just("create"), st.integers(1, 3)),
    st.tuples(st.just("dial"), st.integers(0, 5), st.none() | st.integers(0, 1)),
    st.tuples(st.just("finish"), st.integers(0, 5), st.sampled_from(["success", "fail"])),
    st.tuples(st.just("time_out"), st.integers(0, 5)),
    st.tuples(st.just("delete"), st.integers(0, 5)),
    st.tuples(st.just("plan"), st.integers(0, 3), st.integers(0, 30_000)),
    st.tuples(st.just("wait"), st.integers(1, 120_000)),
    st.tuples(st.just("project")),
    # Dial and fail the same target again and again: reaches retry exhaustion.
    st.tuples(st.just("walk"), st.integers(0, 5), st.integers(1, 4)),
)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=st.lists(command, min_size=4, max_size=30))
def test_projection_equals_replay(commands: list[tuple[object, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        storage = Storage(data_dir=Path(directory))
        clock = FakeClock()
        service = OutdialService(storage.event_store_env(), clock=clock)
        events = StoredEventLog(service, storage)
        view = open_read_model(storage, events).view
        try:
            customer = uuid4()
            outdial = service.create_outdial(customer).value.id
            targets: list[UUID] = []
            dials: dict[UUID, UUID] = {}
            run(service, clock, customer, outdial, targets, dials, ("create", 2))
            for step in commands:
                with suppress(*REFUSALS):
                    run(service, clock, customer, outdial, targets, dials, step)
                if step[0] == "project":
                    catch_up(events, view)
                    assert verify(events, view)[1] == []
            catch_up(events, view)
            position, differences = verify(events, view)
            assert differences == []
            assert position == events.head()
        finally:
            events.close()
            service.close()


def run(
    service: OutdialService,
    clock: FakeClock,
    customer: UUID,
    outdial: UUID,
    targets: list[UUID],
    dials: dict[UUID, UUID],
    step: tuple[object, ...],
) -> None:
    kind, *args = step
    pick = (
        targets[args[0] % len(targets)] if targets and args and isinstance(args[0], int) else None
    )
    if kind == "create":
        count = int(args[0])  # type: ignore[call-overload]
        batch = [new_target("+821100000001", "+821100000002")] * count
        targets += [t.id for t in service.create_targets(customer, outdial, batch).value]
    elif kind == "dial" and pick:
        started = service.start_dial(customer, outdial, pick, destination_index=args[1])  # type: ignore[arg-type]
        dials[pick] = started.value.id
    elif kind == "finish" and pick in dials:
        service.finish_dial(customer, outdial, pick, dials[pick], result=str(args[1]))
    elif kind == "time_out" and pick in dials:
        clock.advance(minutes=2)
        service.time_out_dial(pick, dials[pick])
    elif kind == "delete" and pick:
        service.delete_target(customer, outdial, pick)
    elif kind == "plan":
        changes = {"max_try_count_0": args[0], "max_try_count_1": 1, "try_interval": args[1]}
        service.change_outdial_plan(customer, outdial, changes)
    elif kind == "walk" and pick:
        for _ in range(int(args[1])):  # type: ignore[call-overload]
            dial = service.start_dial(customer, outdial, pick).value
            dials[pick] = dial.id
            service.finish_dial(customer, outdial, pick, dial.id, result="fail", reason="busy")
    elif kind == "wait":
        clock.advance(milliseconds=int(args[0]))  # type: ignore[call-overload]
