"""The Target aggregate: someone a campaign calls, with up to five destinations.

Only four events ever happen to a target: Created, DialStarted, DialFinished and
Deleted. Status, try counts, ``tm_update`` and ``tm_delete`` are never set by a
command: each event's ``apply`` derives them, so replaying the stored events always
rebuilds the same state. Commands validate first and trigger an event last.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.address import Address
from domain.availability import Availability, Blocked
from domain.calling_window import CallingWindow
from domain.do_not_call import NO_ENTRIES, DoNotCall, blocked_destinations
from domain.errors import (
    DialAlreadyFinished,
    DialNotFound,
    DialStillInTime,
    InvalidValue,
    OutdialPaused,
    TargetNotDialable,
)
from domain.plan import DESTINATION_SLOTS, Plan
from domain.retry_rules import Decision
from domain.text import check_plain_text, checked_data, checked_detail, checked_name
from domain.timeline import event_time

Status = Literal["idle", "progressing", "done"]
RESULTS: tuple[str, ...] = ("success", "fail")
REASON_MAX = 64
# The actor of what the service does by itself: a dial past its dial_timeout.
SWEEPER = "system:sweeper"
REFERENCE_ID_MAX = 255
TIMEOUT_REASON = "timeout"
# Rules no waiting lifts: while one blocks, a target has no ready_at.
_UNLIFTABLE = frozenset(
    {"OUTDIAL_DELETED", "OUTDIAL_PAUSED", "DELETED", "NOT_IDLE", "NO_TRIES_LEFT", "ON_DO_NOT_CALL"}
)


@dataclass(frozen=True)
class Dial:
    """One attempt to reach a destination of a target, as the target remembers it."""

    id: UUID
    destination_index: int
    destination: Address
    try_count: int
    plan: Plan
    reference_id: str
    started_at: datetime
    ended_at: datetime | None = None
    result: str = ""
    reason: str = ""
    timed_out: bool = False  # the service finished it after the plan's dial_timeout
    late: bool = False  # the caller's finish arrived after the service timed it out
    actor: str = ""  # who started it: an API key's id, or system:...
    manual: bool = False  # an operator's start, not a dispatch
    time_zones: tuple[str, ...] = ()  # the zones its calling window was judged in

    @property
    def in_flight(self) -> bool:
        return self.ended_at is None

    @property
    def accepts_late_finish(self) -> bool:
        return self.timed_out and not self.late


def cut_reason(reason: str) -> str:
    """Reasons are free text for audit; an overlong one is cut rather than refused."""
    return reason[:REASON_MAX]


class Target(Aggregate):
    """An outdial target; see the module docstring for how its state is derived."""

    TOPIC = "outdial:Target"
    # 2: retry rules' decisions (closed, finished_by, waits_by); see upcast_v1_v2.
    class_version = 2

    # Declared for type checkers only: annotations at run time would make the
    # library turn the aggregate into a dataclass with these as __init__ arguments.
    if TYPE_CHECKING:
        outdial_id: UUID
        customer_id: UUID
        name: str
        detail: str
        data: str
        destinations: list[Address | None]
        try_counts: list[int]
        status: Status
        deleted_at: datetime | None
        dials: dict[str, Dial]
        dial_in_flight: UUID | None
        succeeded: bool
        last_dial_ended_at: datetime | None
        # The retry rules' decisions: destinations closed (next_destination) by index as
        # text, the finish or do_not_call that made it done, and the retry rule with its
        # own interval that the last ended dial waits by.
        closed: dict[str, Decision]
        finished_by: Decision | None
        waits_by: Decision | None

    class Created(Aggregate.Created):
        TOPIC = "outdial:Target.Created"
        outdial_id: UUID
        customer_id: UUID
        name: str
        detail: str
        data: str
        destinations: list[Address | None]
        actor: str = ""  # who: an API key's id, or system:...; "" in events before it

        def apply(self, aggregate: Any) -> None:
            target: Target = aggregate
            target.outdial_id = self.outdial_id
            target.customer_id = self.customer_id
            target.name = self.name
            target.detail = self.detail
            target.data = self.data
            target.destinations = list(self.destinations)
            target.try_counts = [0] * DESTINATION_SLOTS
            target.status = "idle"
            target.deleted_at = None
            target.dials = {}
            target.dial_in_flight = None
            target.succeeded = False
            target.last_dial_ended_at = None
            target.closed = {}
            target.finished_by = None
            target.waits_by = None

    class DialStarted(Aggregate.Event):
        TOPIC = "outdial:Target.DialStarted"
        dial_id: UUID
        destination_index: int
        destination: Address
        try_count: int
        plan: Plan
        reference_id: str
        actor: str = ""
        manual: bool = False  # an operator's start (POST .../dials), not a dispatch
        time_zones: tuple[str, ...] = ()  # the calling window's zones it was judged in

        def apply(self, aggregate: Any) -> None:
            target: Target = aggregate
            target.try_counts[self.destination_index] = self.try_count
            target.status = "progressing"
            target.dial_in_flight = self.dial_id
            target.dials[str(self.dial_id)] = Dial(
                id=self.dial_id,
                destination_index=self.destination_index,
                destination=self.destination,
                try_count=self.try_count,
                plan=self.plan,
                reference_id=self.reference_id,
                started_at=self.timestamp,
                actor=self.actor,
                manual=self.manual,
                time_zones=tuple(self.time_zones),
            )

    class DialFinished(Aggregate.Event):
        TOPIC = "outdial:Target.DialFinished"
        dial_id: UUID
        result: str
        reason: str
        timed_out: bool = False
        late: bool = False
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            target: Target = aggregate
            dial = target.dials[str(self.dial_id)]
            if self.result == "success":
                target.succeeded = True
            decision = target._decide(dial, self.result, self.reason)
            if self.late:
                # The try was counted and the wait began when the service timed it out:
                # of its rule only what closes a destination or finishes counts now.
                target.dials[str(self.dial_id)] = replace(
                    dial, result=self.result, reason=self.reason, late=True
                )
                finished = target.succeeded or target.finished_by is not None
                if finished or (target.status == "idle" and target._exhausted(dial.plan)):
                    target.status = "done"
                return
            target.dials[str(self.dial_id)] = replace(
                dial,
                ended_at=self.timestamp,
                result=self.result,
                reason=self.reason,
                timed_out=self.timed_out,
            )
            target.dial_in_flight = None
            target.last_dial_ended_at = self.timestamp
            waits = decision is not None and decision.rule.retry_interval is not None
            target.waits_by = decision if waits else None
            done = target.succeeded or target.finished_by is not None
            target.status = "done" if done or target._exhausted(dial.plan) else "idle"

    class Deleted(Aggregate.Event):
        TOPIC = "outdial:Target.Deleted"
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            target: Target = aggregate
            target.deleted_at = self.timestamp

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot taken before retry rules: no rule has decided anything yet."""
        state.update(closed={}, finished_by=None, waits_by=None)

    def __deepcopy__(self, memo: dict[int, Any]) -> Target:
        """A copy for one command: it shares the immutable values (addresses, plans, the
        dials it remembers, times, decisions) and copies the containers events change in
        place (``closed`` is replaced, never changed), which costs
        far less than a deep copy of a long dial history."""
        copied = copy.copy(self)
        copied.__dict__.update(
            destinations=list(self.destinations),
            try_counts=list(self.try_counts),
            dials=dict(self.dials),
            _pending_events=list(self._pending_events),
        )
        return copied

    # -- commands ---------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        target_id: UUID,
        outdial_id: UUID,
        customer_id: UUID,
        destinations: Sequence[Address | None],
        at: datetime,
        name: str = "",
        detail: str = "",
        data: str = "",
        actor: str = "",
    ) -> Target:
        if len(destinations) != DESTINATION_SLOTS:
            raise InvalidValue("destinations", f"must have {DESTINATION_SLOTS} slots")
        if all(d is None for d in destinations):
            raise InvalidValue("destination_0", "at least one destination must be set")
        for index, destination in enumerate(destinations):
            if destination is not None and not isinstance(destination, Address):
                raise InvalidValue(f"destination_{index}", "must be an address")
        return cls._create(
            cls.Created,
            id=target_id,
            timestamp=at,
            outdial_id=outdial_id,
            customer_id=customer_id,
            name=checked_name(name),
            detail=checked_detail(detail),
            data=checked_data(data),
            destinations=list(destinations),
            actor=actor,
        )

    @classmethod
    def as_listed(
        cls,
        *,
        target_id: UUID,
        version: int,
        modified_on: datetime,
        deleted_at: datetime | None,
    ) -> Target:
        """A target reduced to what deleting it needs (its id, version, last change and
        deletion), as a list of many shows them: an erasure of a whole outdial deletes
        thousands without reading each one's events. Its Deleted still names the version
        it follows, so a list gone stale fails the write instead of losing a change."""
        target = object.__new__(cls)
        state = {
            "_id": target_id,
            "_version": version,
            "_created_on": modified_on,
            "_modified_on": modified_on,
            "deleted_at": deleted_at,
            "_pending_events": [],
        }
        object.__setattr__(target, "__dict__", state)
        return target

    def start_dial(
        self,
        *,
        dial_id: UUID,
        plan: Plan,
        at: datetime,
        destination_index: int | None = None,
        reference_id: str = "",
        honour_try_interval: bool = True,
        outdial_blocking: tuple[Blocked, ...] = (),
        window: CallingWindow | None = None,
        do_not_call: DoNotCall = NO_ENTRIES,
        actor: str = "",
    ) -> Dial:
        """Start one dial; the next destination in order not on the do-not-call list,
        unless one is named.

        ``honour_try_interval`` is False for an operator's manual redial, which
        does not wait for the plan's try_interval; ``outdial_blocking`` is what of the
        outdial stops all its targets (``Outdial.blocking``), ``window`` its calling
        window and ``do_not_call`` the entries that may block this target's destinations.
        """
        if not isinstance(reference_id, str) or len(reference_id) > REFERENCE_ID_MAX:
            raise InvalidValue(
                "reference_id", f"must be a string of at most {REFERENCE_ID_MAX} characters"
            )
        check_plain_text("reference_id", reference_id)
        if destination_index is not None and destination_index not in range(DESTINATION_SLOTS):
            raise InvalidValue(
                "destination_index", f"must be between 0 and {DESTINATION_SLOTS - 1}"
            )
        if str(dial_id) in self.dials:
            raise InvalidValue("dial_id", "a dial with this id was already started")
        # Judged at the time the dial will be recorded (never before the last event).
        at = self._event_time(at)
        if destination_index is not None:
            if self.destinations[destination_index] is None:
                raise TargetNotDialable(f"destination_{destination_index} is not set")
            closed = self.closed.get(str(destination_index))
            if closed is not None:
                raise TargetNotDialable(
                    f"destination_{destination_index} is closed: {closed.describe()}"
                )
            if not plan.is_eligible(destination_index, self.destinations, self.try_counts):
                raise TargetNotDialable(
                    f"destination_{destination_index} has used its "
                    f"{plan.max_try_count(destination_index)} tries under the plan"
                )
        judged = self.availability(
            plan,
            at,
            honour_try_interval=honour_try_interval,
            outdial_blocking=outdial_blocking,
            window=window,
            do_not_call=do_not_call,
            destination_index=destination_index,
        )
        if judged.blocked_by:
            first = judged.blocked_by[0]
            if first.rule == "OUTDIAL_PAUSED":
                raise OutdialPaused(first.message)
            raise TargetNotDialable(first.message)
        destination_index = judged.next_destination
        assert destination_index is not None  # availability found one
        destination = self.destinations[destination_index]
        assert destination is not None
        self.trigger_event(
            self.DialStarted,
            timestamp=at,  # already the event's time (above)
            dial_id=dial_id,
            destination_index=destination_index,
            destination=destination,
            try_count=self.try_counts[destination_index] + 1,
            plan=plan,
            reference_id=reference_id,
            actor=actor,
            manual=not honour_try_interval,
            time_zones=judged.time_zones,
        )
        return self.dials[str(dial_id)]

    def finish_dial(
        self, *, dial_id: UUID, result: str, reason: str, at: datetime, actor: str = ""
    ) -> bool:
        """Record the result of a dial; False when it repeats a finish already recorded."""
        if result not in RESULTS:
            raise InvalidValue("result", f"must be one of {', '.join(RESULTS)}")
        if not isinstance(reason, str):
            raise InvalidValue("reason", "must be a string")
        check_plain_text("reason", reason)
        dial = self._dial(dial_id)
        if dial.in_flight:
            self._record_finish(dial_id, result, reason, at, actor=actor)
            return True
        if dial.accepts_late_finish:
            self._record_finish(dial_id, result, reason, at, late=True, actor=actor)
            return True
        if dial.result == result:
            return False
        raise DialAlreadyFinished(f"dial {dial_id} already finished with result '{dial.result}'")

    def time_out_dial(self, *, dial_id: UUID, at: datetime, actor: str = SWEEPER) -> None:
        """The service finishes a dial its caller never finished, so the target is not stuck."""
        dial = self._dial(dial_id)
        if not dial.in_flight:
            raise DialAlreadyFinished(f"dial {dial_id} already finished")
        due = dial.started_at + timedelta(milliseconds=dial.plan.dial_timeout)
        if at < due:
            raise DialStillInTime(f"dial {dial_id} is within its dial_timeout until {due}")
        self._record_finish(dial_id, "fail", TIMEOUT_REASON, at, timed_out=True, actor=actor)

    def delete(self, *, at: datetime, actor: str = "") -> bool:
        """Soft-delete once; False when already deleted (nothing new is recorded)."""
        if self.deleted_at is not None:
            return False
        self.trigger_event(self.Deleted, timestamp=self._event_time(at), actor=actor)
        return True

    # -- queries ----------------------------------------------------------------

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def next_destination(self, plan: Plan) -> int | None:
        return plan.next_destination(self.destinations, self.try_counts, self.closed_destinations)

    @property
    def closed_destinations(self) -> frozenset[int]:
        """The destinations a retry rule closed (next_destination): never dialed again."""
        return frozenset(int(index) for index in self.closed)

    @property
    def retry_at(self) -> datetime | None:
        """When the last dial's retry rule's own interval ends; None when the plan's
        try_interval decides."""
        waits_by, ended = self.waits_by, self.last_dial_ended_at
        if waits_by is None or ended is None or waits_by.rule.retry_interval is None:
            return None
        return ended + timedelta(milliseconds=waits_by.rule.retry_interval)

    def decision_of(self, dial_id: UUID) -> Decision | None:
        """The retry rule that decided this dial's latest recorded finish, if one did."""
        dial = self._dial(dial_id)
        rule = None if dial.in_flight else dial.plan.rule_for(dial.result, dial.reason)
        return None if rule is None else Decision(dial.id, dial.reason, rule)

    # -- internals --------------------------------------------------------------

    def availability(
        self,
        plan: Plan,
        now: datetime,
        *,
        honour_try_interval: bool = True,
        outdial_blocking: tuple[Blocked, ...] = (),
        window: CallingWindow | None = None,
        do_not_call: DoNotCall = NO_ENTRIES,
        destination_index: int | None = None,
    ) -> Availability:
        """Whether it may be dialed now under ``plan``, and every rule that stops it, its
        outdial's first: what dispatch, an explicit start and the availability endpoint
        all judge by (the read model's ``available`` states the same rules in SQL).

        The destination judged is ``destination_index`` when given, else the lowest
        eligible one not on the do-not-call list; the calling window is judged in that
        destination's zones. ``ready_at`` is when the try_interval after the last dial
        ends, or with a window the first instant from then (or now) at which it is open.
        """
        blocked: list[Blocked] = list(outdial_blocking)
        if self.is_deleted:
            blocked.append(Blocked("DELETED", "the target is deleted"))
        if self.status != "idle":
            blocked.append(Blocked("NOT_IDLE", self._status_said()))
        on_list = blocked_destinations(self.destinations, self.outdial_id, do_not_call, now)
        closed = self.closed_destinations
        eligible = [
            n
            for n in range(DESTINATION_SLOTS)
            if plan.is_eligible(n, self.destinations, self.try_counts, closed)
            and destination_index in (None, n)
        ]
        judged = next((n for n in eligible if n not in on_list), None)
        if not eligible:
            said = "no destination has tries left under the plan" + "".join(
                f"; destination {n} closed: {self.closed[str(n)].describe()}"
                for n in sorted(closed)
                if destination_index in (None, n)
            )
            blocked.append(Blocked("NO_TRIES_LEFT", said))
        elif judged is None:
            entries = tuple(dict.fromkeys(e for n in eligible for e in on_list[n]))
            which = ", ".join(f"destination_{n}" for n in eligible)
            blocked.append(
                Blocked("ON_DO_NOT_CALL", f"{which} on the do-not-call list", entries=entries)
            )
        ready_at = None
        if self.last_dial_ended_at is not None:
            # A retry rule's own interval, else the plan's try_interval.
            ready_at = self.retry_at or self.last_dial_ended_at + timedelta(
                milliseconds=plan.try_interval
            )
            if honour_try_interval and now < ready_at:
                said = f"the try_interval has not passed (ready at {ready_at})"
                if self.retry_at is not None and self.waits_by is not None:
                    said = (
                        f"the retry interval has not passed (ready at {ready_at} "
                        f"{self.waits_by.by_rule()})"
                    )
                blocked.append(Blocked("TRY_INTERVAL", said))
        zones: tuple[str, ...] = ()
        if window is not None and judged is not None:
            destination = self.destinations[judged]
            assert destination is not None
            zones = window.zones_of(destination)
            waits = honour_try_interval and ready_at is not None and now < ready_at
            if not window.is_open(zones, now):
                opens = window.next_open(zones, ready_at if waits and ready_at else now)
                blocked.append(
                    Blocked(
                        "OUTSIDE_CALLING_WINDOW",
                        f"outside the calling window of destination_{judged} "
                        f"({window.local_times(zones, now)}); "
                        + (f"it opens at {opens}" if opens else "it does not open within 8 days"),
                    )
                )
                ready_at = opens
            elif waits and ready_at is not None:
                ready_at = window.next_open(zones, ready_at)
        if any(b.rule in _UNLIFTABLE for b in blocked):
            ready_at = None
        return Availability(tuple(blocked), judged, ready_at, zones)

    def _status_said(self) -> str:
        if self.status == "done" and not self.succeeded and self.finished_by is not None:
            return f"the target is done: {self.finished_by.describe()}"
        return f"the target is {self.status}, not idle"

    def _decide(self, dial: Dial, result: str, reason: str) -> Decision | None:
        """Apply the rule a finish's reason matches under its dial's plan: a destination
        closed, or the target finished. Run by the event's ``apply`` (so on replay too).
        Answers the decision when the rule retries: the wait it sets."""
        rule = dial.plan.rule_for(result, reason)
        if rule is None:
            return None
        decision = Decision(dial.id, reason, rule)
        if rule.closes_destination:
            self.closed = {**self.closed, str(dial.destination_index): decision}
        elif rule.finishes and self.finished_by is None:
            self.finished_by = decision
        return decision if rule.action == "retry" else None

    def _exhausted(self, plan: Plan) -> bool:
        """No destination is eligible any more under ``plan``."""
        return self.next_destination(plan) is None

    def _dial(self, dial_id: UUID) -> Dial:
        try:
            return self.dials[str(dial_id)]
        except KeyError:
            raise DialNotFound(f"dial {dial_id} was never started on this target") from None

    def _record_finish(
        self,
        dial_id: UUID,
        result: str,
        reason: str,
        at: datetime,
        *,
        timed_out: bool = False,
        late: bool = False,
        actor: str = "",
    ) -> None:
        self.trigger_event(
            self.DialFinished,
            timestamp=self._event_time(at),
            dial_id=dial_id,
            result=result,
            reason=cut_reason(reason),
            timed_out=timed_out,
            late=late,
            actor=actor,
        )

    def _event_time(self, at: datetime) -> datetime:
        return event_time(self.modified_on, at)
