"""Property: random command sequences never break a target's invariants.

The rules are those of docs/design.md, Domain rules. The plans dialed under carry random
retry rules (domain/retry_rules.py); ``RulesModel`` is the test's own reading of them,
folded over the target's events, that the target is held against.
"""

from __future__ import annotations

import functools
import itertools
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
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
from domain.do_not_call import blocked_destinations
from domain.plan import Plan
from domain.retry_rules import RetryRule
from domain.target import TIMEOUT_REASON, Dial, Target
from tests.conftest import FakeClock, examples
from tests.retry_rule_strategies import wired

# Reasons rules are written for ("timeout": the service's own finish of a dial), and one
# as long as a rule's reason may be, which a longer reason matches once it is cut to 64.
LONG_REASON = "r" * 64
RULE_REASONS = ["busy", "noanswer", "invalid_number", "amd", "timeout", LONG_REASON]
# Each action; those that end a target less often, so that its life goes on for a while.
ACTIONS = ["retry", "next_destination", "retry", "next_destination", "finish", "do_not_call"]
cases = st.sampled_from([str, str.upper, str.title, str.swapcase])


# 0 to 4 rules, mostly some (with none, every failure retries as before rules).
retry_rules: st.SearchStrategy[list[dict[str, Any]]] = st.lists(
    st.tuples(
        st.builds(lambda reason, case: case(reason), st.sampled_from([*RULE_REASONS, "*"]), cases),
        st.sampled_from(ACTIONS),
        st.sampled_from([30_000, None, 1_000, 90_000, 0]),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda spec: spec[0].casefold(),
).map(wired) | st.just([])
# Tries listed from 2: hypothesis draws the first often, and a target is done soon enough
# under plans of one try each (at once under none).
plans = st.builds(
    lambda fields, rules: Plan.from_dict({**fields, "retry_rules": rules}),
    st.fixed_dictionaries(
        {
            "max_try_count_0": st.sampled_from([2, 1, 3, 0]),
            "max_try_count_1": st.sampled_from([2, 1, 3, 0]),
            "max_try_count_2": st.sampled_from([2, 1, 0]),
            "max_try_count_3": st.sampled_from([2, 1, 0]),
            "max_try_count_4": st.sampled_from([2, 1, 0]),
            "try_interval": st.sampled_from([0, 1_000, 60_000]),
            "dial_timeout": st.sampled_from([1_000, 60_000]),
        }
    ),
    retry_rules,
)
# The rules' reasons in any case, others no rule names, one a rule matches once cut, and
# (less often) any text: printable, or any (a control character is refused).
named_reasons = st.builds(
    lambda reason, case: case(reason),
    st.sampled_from([*RULE_REASONS, "normal", "no answer", "busy ", "", LONG_REASON + "xyz"]),
    cases,
)
reasons = st.one_of(
    named_reasons,
    named_reasons,
    st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=80),
    st.text(max_size=80),
)
# Mostly failures: only they meet the rules.
results = st.sampled_from(["fail"] * 5 + ["success"])


@functools.cache
def reasons_for(rules: tuple[RetryRule, ...]) -> st.SearchStrategy[str]:
    """Mostly a reason one of these rules names, in any case, or run on past the 64
    characters a reason is cut to; else any."""
    named = [r.reason for r in rules if r.reason != "*"]
    if not named:
        return reasons
    return st.one_of(
        st.builds(
            lambda reason, case, tail: case(reason) + tail,
            st.sampled_from(named),
            cases,
            st.sampled_from(["", "xyz"]),
        ),
        reasons,
    )


slots = st.lists(st.booleans(), min_size=5, max_size=5).filter(any)


def matching_rule(rules: tuple[RetryRule, ...], result: str, reason: str) -> RetryRule | None:
    """The rule that decides a finish: a fail's first rule whose reason is the finish's in
    any case, or ``"*"``."""
    if result != "fail":
        return None
    for candidate in rules:
        if candidate.reason == "*" or candidate.reason.casefold() == reason.casefold():
            return candidate
    return None


@dataclass(frozen=True)
class Start:
    """A DialStarted and what the model held just before it."""

    event: Target.DialStarted
    status: str
    deleted: bool
    closed: frozenset[int]
    finished_by: UUID | None
    retry_at: datetime | None
    ready_at: datetime | None  # retry_at, else the started plan's try_interval's end


@dataclass
class RulesModel:
    """A target's state as the rules say its events make it."""

    present: list[bool] = field(default_factory=lambda: [False] * 5)
    tries: list[int] = field(default_factory=lambda: [0] * 5)
    status: str = "idle"
    deleted: bool = False
    succeeded: bool = False
    closed: dict[int, UUID] = field(default_factory=dict)  # index: the dial that closed it
    finished_by: UUID | None = None
    retry_at: datetime | None = None
    last_end: datetime | None = None
    dials: dict[UUID, tuple[int, Plan]] = field(default_factory=dict)
    listed: set[int] = field(default_factory=set)  # destinations a do_not_call rule decided
    starts: list[Start] = field(default_factory=list)

    @classmethod
    def of(cls, events: list[CanMutateAggregate[UUID]]) -> RulesModel:
        model = cls()
        for event in events:
            model.apply(event)
        return model

    def ready_at(self, plan: Plan) -> datetime | None:
        """The end of the last (not late) finish's rule's own interval, else of ``plan``'s
        try_interval after it."""
        if self.last_end is None:
            return None
        return self.retry_at or self.last_end + timedelta(milliseconds=plan.try_interval)

    def eligible(self, plan: Plan) -> list[int]:
        """The destinations set, not closed, with tries left under ``plan``."""
        return [
            n
            for n in range(5)
            if self.present[n] and n not in self.closed and self.tries[n] < plan.max_try_count(n)
        ]

    def blocking(self, plan: Plan, now: datetime, *, manual: bool = False) -> set[str]:
        """The rules that stop a dial under ``plan`` now (the do-not-call list aside)."""
        ready = self.ready_at(plan)
        rules = {
            "DELETED": self.deleted,
            "NOT_IDLE": self.status != "idle",
            "NO_TRIES_LEFT": not self.eligible(plan),
            "TRY_INTERVAL": not manual and ready is not None and now < ready,
        }
        return {name for name, blocks in rules.items() if blocks}

    def may_start(self, plan: Plan, index: int | None, manual: bool, at: datetime) -> bool:
        """Whether a start under ``plan`` at ``at`` (of destination ``index`` when given)
        is allowed, with no contact rules in play."""
        return not self.blocking(plan, at, manual=manual) and index in (None, *self.eligible(plan))

    def apply(self, event: CanMutateAggregate[UUID]) -> None:
        if isinstance(event, Target.Created):
            self.present = [d is not None for d in event.destinations]
        elif isinstance(event, Target.Deleted):
            self.deleted = True
        elif isinstance(event, Target.DialStarted):
            self.starts.append(
                Start(
                    event,
                    self.status,
                    self.deleted,
                    frozenset(self.closed),
                    self.finished_by,
                    self.retry_at,
                    self.ready_at(event.plan),
                )
            )
            self.tries[event.destination_index] = event.try_count
            self.status = "progressing"
            self.dials[event.dial_id] = (event.destination_index, event.plan)
        elif isinstance(event, Target.DialFinished):
            self.finished(event)

    def finished(self, event: Target.DialFinished) -> None:
        index, plan = self.dials[event.dial_id]
        decided = matching_rule(plan.retry_rules, event.result, event.reason)
        action = None if decided is None else decided.action
        self.succeeded = self.succeeded or event.result == "success"
        if action == "next_destination":
            self.closed[index] = event.dial_id
        if action in ("finish", "do_not_call") and self.finished_by is None:
            self.finished_by = event.dial_id
        if action == "do_not_call":
            self.listed.add(index)
        done = self.succeeded or self.finished_by is not None
        if event.late:  # the wait began at the time-out; only closing and finishing count
            if done or (self.status == "idle" and not self.eligible(plan)):
                self.status = "done"
            return
        self.last_end = event.timestamp
        own = None if decided is None else decided.retry_interval
        self.retry_at = None if own is None else event.timestamp + timedelta(milliseconds=own)
        self.status = "done" if done or not self.eligible(plan) else "idle"


# What TargetLife read last: as of which notification, the target, its events, their model.
Seen = tuple[int | None, Target, list[CanMutateAggregate[UUID]], RulesModel]


class TargetLife(RuleBasedStateMachine):
    """Drives one target through the application and checks it after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.service = OutdialService(clock=self.clock)
        self.customer = uuid4()
        self.outdial_id = self.service.create_outdial(self.customer).value.id
        self.target_id: UUID | None = None
        self.plan = Plan()
        self.dial_ids: list[UUID] = []
        self.seen: Seen | None = None

    @initialize(present=slots, plan=plans)
    def create(self, present: list[bool], plan: Plan) -> None:
        self.plan = plan  # the campaign's plan, which most dials run under
        destinations = [
            Address(type="tel", target=f"+82110000000{n}") if here else None
            for n, here in enumerate(present)
        ]
        target = self.service.create_target(
            self.customer, self.outdial_id, NewTarget(destinations)
        ).value
        self.target_id = target.id

    @rule(
        changed=st.none() | st.none() | plans,
        index=st.none() | st.none() | st.integers(0, 4),
        manual=st.booleans(),
        then=st.sampled_from(["finish", "time_out_then_finish", "finish", "time_out", "nothing"]),
        result=results,
        data=st.data(),
    )
    @precondition(lambda self: self.target_id is not None)
    def start_dial(
        self,
        changed: Plan | None,
        index: int | None,
        manual: bool,
        then: str,
        result: str,
        data: st.DataObject,
    ) -> None:
        """A start, and what ``then`` happens to the dial at once: a whole try in one step
        (as dispatch and its caller make one), or the service's time-out after the dial's
        timeout, and the caller's finish late; so the rules decide often within an example.
        Under the campaign's plan, or one ``changed`` for this dial (an operator's redial,
        or the campaign's plan changed)."""
        plan = changed or self.plan
        dial_id = self.started(plan, index, manual)
        if dial_id is None or then == "nothing":
            return
        if then.startswith("time_out"):
            # Past the timeout: the start may be recorded a few microseconds after now.
            self.clock.advance(milliseconds=plan.dial_timeout + 1)
            self.timed_out(dial_id)
        if then.endswith("finish"):
            self.finished(dial_id, result, data.draw(reasons_for(plan.retry_rules), label="reason"))

    @rule(data=st.data(), result=results)
    @precondition(lambda self: bool(self.dial_ids))
    def finish_dial(self, data: st.DataObject, result: str) -> None:
        # The last dial mostly (in flight, or timed out and finished late), any other too.
        dial_id = data.draw(st.sampled_from(self.dial_ids[-1:]) | st.sampled_from(self.dial_ids))
        plan = self.state()[0].dials[str(dial_id)].plan
        self.finished(dial_id, result, data.draw(reasons_for(plan.retry_rules), label="reason"))

    def started(self, plan: Plan, index: int | None, manual: bool) -> UUID | None:
        """A start, checked against the model: refused exactly when the rules say so."""
        assert self.target_id is not None
        before, _, model = self.state()
        at = max(self.clock.now, before.modified_on + timedelta(microseconds=1))
        allowed = model.may_start(plan, index, manual, at)
        outcome: Dial | Exception
        try:
            outcome = self.service.start_dial(
                self.customer,
                self.outdial_id,
                self.target_id,
                plan_changes=plan.as_dict(),
                destination_index=index,
                manual=manual,
            ).value
        except REFUSALS as refusal:
            outcome = refusal
        if isinstance(outcome, Exception):
            assert not allowed, f"refused a start the rules allow: {outcome}"
            return None
        assert allowed, "started a dial the rules do not allow"
        self.dial_ids.append(outcome.id)
        return outcome.id

    def finished(self, dial_id: UUID, result: str, reason: str) -> None:
        assert self.target_id is not None
        before = len(self.state()[1])
        with suppress(*REFUSALS):
            self.service.finish_dial(
                self.customer,
                self.outdial_id,
                self.target_id,
                dial_id,
                result=result,
                reason=reason,
            )
        self.recorded_as(before, dial_id, result, reason[:64])

    def recorded_as(self, before: int, dial_id: UUID, result: str, reason: str) -> None:
        """A finish recorded after the first ``before`` events is the dial's, with the reason
        cut to 64 characters (which the rules match); and when a rule decided it, the
        do-not-call list holds the addresses do_not_call rules decided, and no other."""
        _, events, model = self.state()
        if len(events) > before:
            [recorded] = events[before:]
            assert isinstance(recorded, Target.DialFinished)
            assert (recorded.dial_id, recorded.result, recorded.reason) == (dial_id, result, reason)
            if matching_rule(model.dials[dial_id][1].retry_rules, result, reason):
                self.a_do_not_call_rule_lists_the_dialed_address()

    @rule()
    @precondition(lambda self: bool(self.dial_ids))
    def time_out(self) -> None:
        target = self.target()
        if target.dial_in_flight is not None:
            self.timed_out(target.dial_in_flight)

    def timed_out(self, dial_id: UUID) -> None:
        assert self.target_id is not None
        before = len(self.state()[1])
        with suppress(*REFUSALS):
            self.service.time_out_dial(self.target_id, dial_id)
        self.recorded_as(before, dial_id, "fail", TIMEOUT_REASON)

    @rule(really=st.sampled_from([False] * 9 + [True]))
    @precondition(lambda self: bool(self.dial_ids))
    def delete(self, really: bool) -> None:
        """Now and then: a deleted target is never dialed again, and the rules' work ends."""
        assert self.target_id is not None
        if really:
            self.service.delete_target(self.customer, self.outdial_id, self.target_id)

    @rule(ms=st.sampled_from([1, 999, 1_000, 30_000, 61_000]))
    @precondition(lambda self: bool(self.dial_ids))
    def wait(self, ms: int) -> None:
        self.clock.advance(milliseconds=ms)

    def target(self) -> Target:
        assert self.target_id is not None
        return self.service.get_target(self.customer, self.outdial_id, self.target_id)

    def events(self) -> list[CanMutateAggregate[UUID]]:
        if self.target_id is None:
            return []
        return stored_events(self.service, self.target_id)

    def state(self) -> tuple[Target, list[CanMutateAggregate[UUID]], RulesModel]:
        """The target, its events and the model of them, read again once anything was
        recorded."""
        recorded = self.service.recorder.max_notification_id()
        if self.seen is None or self.seen[0] != recorded:
            events = self.events()
            self.seen = (recorded, self.target(), events, RulesModel.of(events))
        return self.seen[1:]

    def a_do_not_call_rule_lists_the_dialed_address(self) -> None:
        """Checked after each finish a rule decided (reading the list costs more than all
        the invariants)."""
        target, _, model = self.state()
        entries = self.service.do_not_call_of(self.customer, [target])
        blocked = blocked_destinations(target.destinations, self.outdial_id, entries, self.clock())
        assert set(blocked) == model.listed

    @invariant()
    def try_counts_stay_within_the_plans_used(self) -> None:
        if self.target_id is None:
            return
        target = self.state()[0]
        for n in range(5):
            used = [
                d.plan.max_try_count(n) for d in target.dials.values() if d.destination_index == n
            ]
            assert target.try_counts[n] <= max(used, default=0)
            assert target.try_counts[n] == len(used)

    @invariant()
    def status_follows_the_dial_events_and_their_rules(self) -> None:
        """Done once a dial succeeded or a rule finished the target, or when no destination
        is eligible under the plan of the dial that ended last, closed ones excluded (or of
        a dial finished late, after its time-out, while the target was idle); progressing
        while a dial is in flight; idle otherwise."""
        if self.target_id is None:
            return
        target, _, model = self.state()
        in_flight = [d for d in target.dials.values() if d.in_flight]
        assert len(in_flight) <= 1
        if model.succeeded or model.finished_by is not None:
            assert target.status == "done"
        elif in_flight:
            assert target.status == "progressing"
        assert target.status == model.status
        assert target.try_counts == model.tries

    @invariant()
    def the_rules_decisions_are_the_models(self) -> None:
        """The destinations closed, the finish that finished it, when its retry rule's own
        interval ends (not moved by a late finish)."""
        if self.target_id is None:
            return
        target, _, model = self.state()
        assert {int(n): d.dial_id for n, d in target.closed.items()} == model.closed
        assert target.closed_destinations == frozenset(model.closed)
        assert (target.finished_by and target.finished_by.dial_id) == model.finished_by
        assert target.retry_at == model.retry_at

    @invariant()
    def availability_is_the_models(self) -> None:
        """Judged now under the campaign's plan, by dispatch and by a manual redial: what
        blocks a dial, the destination it would use and when it could be. Without the
        do-not-call list, which holds only the addresses of finished targets (checked
        after each finish a rule decided)."""
        if self.target_id is None:
            return
        target, _, model = self.state()
        now = self.clock()
        for manual in (False, True):
            judged = target.availability(self.plan, now, honour_try_interval=not manual)
            blocking = model.blocking(self.plan, now, manual=manual)
            assert {b.rule for b in judged.blocked_by} == blocking
            assert judged.next_destination == next(iter(model.eligible(self.plan)), None)
            waits = blocking <= {"TRY_INTERVAL"}
            assert judged.ready_at == (model.ready_at(self.plan) if waits else None)

    @invariant()
    def no_dial_starts_on_a_closed_destination_early_or_after_the_target_is_done(self) -> None:
        """Whatever was asked: not on a closed destination, not once a rule finished the
        target, and by dispatch (not a manual redial) not before the last dial's retry rule's
        own interval, or else the plan's try_interval, has passed."""
        if self.target_id is None:
            return
        for start in self.state()[2].starts:
            event = start.event
            assert event.destination_index not in start.closed, "dialed a closed destination"
            assert start.finished_by is None, "dialed after a rule finished the target"
            assert start.status == "idle", f"dialed a {start.status} target"
            assert not start.deleted
            if not event.manual:
                assert start.retry_at is None or event.timestamp >= start.retry_at
                assert start.ready_at is None or event.timestamp >= start.ready_at

    @invariant()
    def no_dial_starts_after_the_target_is_deleted(self) -> None:
        if self.target_id is None:
            return
        deleted = False
        for event in self.state()[1]:
            if isinstance(event, Target.Deleted):
                assert not deleted, "deleted twice"
                deleted = True
            assert not (deleted and isinstance(event, Target.DialStarted))

    @invariant()
    def event_times_strictly_increase(self) -> None:
        if self.target_id is None:
            return
        times = [e.timestamp for e in self.state()[1]]
        assert all(b - a >= timedelta(microseconds=1) for a, b in itertools.pairwise(times))

    @invariant()
    def replaying_the_events_gives_the_live_state(self) -> None:
        if self.target_id is None:
            return
        live, events, _ = self.state()
        rebuilt = replay(events)
        assert vars(rebuilt) == vars(live)
        assert rebuilt.dials == live.dials
        assert rebuilt.version == live.version

    def teardown(self) -> None:
        self.service.close()


# A target's life is over (done, or deleted) well within 20 steps, each a start that is
# often finished or timed out in the same step.
TargetLife.TestCase.settings = settings(
    max_examples=examples(150), stateful_step_count=20, deadline=None
)
test_target_life = TargetLife.TestCase
