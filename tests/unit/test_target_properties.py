"""Property: random command sequences never break a target's invariants.

The rules are those of docs/design.md, Domain rules.
"""

from __future__ import annotations

import itertools
from contextlib import suppress
from datetime import timedelta
from uuid import UUID, uuid4

from eventsourcing.domain import CanMutateAggregate
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from application.errors import REFUSALS
from application.history import replay, stored_events
from application.service import NewTarget, OutdialService
from domain.address import Address
from domain.plan import Plan
from domain.target import Target
from tests.conftest import FakeClock, examples

plans = st.builds(
    Plan,
    max_try_count_0=st.integers(0, 3),
    max_try_count_1=st.integers(0, 3),
    max_try_count_2=st.integers(0, 2),
    max_try_count_3=st.integers(0, 2),
    max_try_count_4=st.integers(0, 2),
    try_interval=st.sampled_from([0, 1_000, 60_000]),
    dial_timeout=st.sampled_from([1_000, 60_000]),
)
slots = st.lists(st.booleans(), min_size=5, max_size=5).filter(any)


class TargetLife(RuleBasedStateMachine):
    """Drives one target through the application and checks it after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.service = OutdialService(clock=self.clock)
        self.customer = uuid4()
        self.outdial_id = self.service.create_outdial(self.customer).value.id
        self.target_id: UUID | None = None
        self.dial_ids: list[UUID] = []

    @initialize(present=slots)
    def create(self, present: list[bool]) -> None:
        destinations = [
            Address(type="tel", target=f"+82110000000{n}") if here else None
            for n, here in enumerate(present)
        ]
        target = self.service.create_target(
            self.customer, self.outdial_id, NewTarget(destinations)
        ).value
        self.target_id = target.id

    @rule(plan=plans, index=st.none() | st.integers(0, 4), manual=st.booleans())
    @precondition(lambda self: self.target_id is not None)
    def start_dial(self, plan: Plan, index: int | None, manual: bool) -> None:
        assert self.target_id is not None
        try:
            dial = self.service.start_dial(
                self.customer,
                self.outdial_id,
                self.target_id,
                plan_changes=plan.as_dict(),
                destination_index=index,
                manual=manual,
            ).value
        except REFUSALS:
            return
        self.dial_ids.append(dial.id)

    @rule(data=st.data(), result=st.sampled_from(["success", "fail"]), reason=st.text(max_size=80))
    @precondition(lambda self: bool(self.dial_ids))
    def finish_dial(self, data: st.DataObject, result: str, reason: str) -> None:
        assert self.target_id is not None
        dial_id = data.draw(st.sampled_from(self.dial_ids))
        with suppress(*REFUSALS):
            self.service.finish_dial(
                self.customer,
                self.outdial_id,
                self.target_id,
                dial_id,
                result=result,
                reason=reason,
            )

    @rule()
    @precondition(lambda self: self.target_id is not None)
    def time_out(self) -> None:
        assert self.target_id is not None
        target = self.target()
        dial = None if target.dial_in_flight is None else target.dials[str(target.dial_in_flight)]
        if dial is not None:
            with suppress(*REFUSALS):
                self.service.time_out_dial(self.target_id, dial.id)

    @rule()
    @precondition(lambda self: self.target_id is not None)
    def delete(self) -> None:
        assert self.target_id is not None
        self.service.delete_target(self.customer, self.outdial_id, self.target_id)

    @rule(ms=st.sampled_from([1, 999, 1_000, 30_000, 61_000]))
    def wait(self, ms: int) -> None:
        self.clock.advance(milliseconds=ms)

    def target(self) -> Target:
        assert self.target_id is not None
        return self.service.get_target(self.customer, self.outdial_id, self.target_id)

    def events(self) -> list[CanMutateAggregate[UUID]]:
        if self.target_id is None:
            return []
        return stored_events(self.service, self.target_id)

    @invariant()
    def try_counts_stay_within_the_plans_used(self) -> None:
        if self.target_id is None:
            return
        target = self.target()
        for n in range(5):
            used = [
                d.plan.max_try_count(n) for d in target.dials.values() if d.destination_index == n
            ]
            assert target.try_counts[n] <= max(used, default=0)
            assert target.try_counts[n] == len(used)

    @invariant()
    def status_follows_the_last_dial_events(self) -> None:
        if self.target_id is None:
            return
        target = self.target()
        dial_events = [
            e for e in self.events() if isinstance(e, Target.DialStarted | Target.DialFinished)
        ]
        in_flight = [d for d in target.dials.values() if d.in_flight]
        assert len(in_flight) <= 1
        if any(d.result == "success" for d in target.dials.values()):
            assert target.status == "done"
        elif in_flight:
            assert target.status == "progressing"
        elif not dial_events:
            assert target.status == "idle"
        else:
            last = next(d for d in reversed(dial_events) if isinstance(d, Target.DialFinished))
            plan = target.dials[str(last.dial_id)].plan
            exhausted = plan.next_destination(target.destinations, target.try_counts) is None
            assert target.status == ("done" if exhausted else "idle")

    @invariant()
    def no_dial_starts_after_the_target_is_deleted(self) -> None:
        deleted = False
        for event in self.events():
            if isinstance(event, Target.Deleted):
                assert not deleted, "deleted twice"
                deleted = True
            assert not (deleted and isinstance(event, Target.DialStarted))

    @invariant()
    def event_times_strictly_increase(self) -> None:
        times = [e.timestamp for e in self.events()]
        assert all(b - a >= timedelta(microseconds=1) for a, b in itertools.pairwise(times))

    @invariant()
    def replaying_the_events_gives_the_live_state(self) -> None:
        if self.target_id is None:
            return
        live = self.target()
        rebuilt = replay(self.events())
        assert vars(rebuilt) == vars(live)
        assert rebuilt.dials == live.dials
        assert rebuilt.version == live.version

    def teardown(self) -> None:
        self.service.close()


TargetLife.TestCase.settings = settings(
    max_examples=examples(150), stateful_step_count=30, deadline=None
)
test_target_life = TargetLife.TestCase
