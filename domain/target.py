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
from domain.text import check_plain_text, checked_data, checked_detail, checked_name
from domain.timeline import event_time

Status = Literal["idle", "progressing", "done"]
RESULTS: tuple[str, ...] = ("success", "fail")
REASON_MAX = 64
# The actor of what the service does by itself: a dial past its dial_timeout.
SWEEPER = "system:sweeper"
REFERENCE_ID_MAX = 255
TIMEOUT_REASON = "timeout"


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
            if self.late:
                target.dials[str(self.dial_id)] = replace(
                    dial, result=self.result, reason=self.reason, late=True
                )
                if target.succeeded:
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
            exhausted = dial.plan.next_destination(target.destinations, target.try_counts) is None
            target.status = "done" if target.succeeded or exhausted else "idle"

    class Deleted(Aggregate.Event):
        TOPIC = "outdial:Target.Deleted"
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            target: Target = aggregate
            target.deleted_at = self.timestamp

    def __deepcopy__(self, memo: dict[int, Any]) -> Target:
        """A copy for one command: it shares the immutable values (addresses, plans, the
        dials it remembers, times) and copies the containers events change, which costs
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
        return plan.next_destination(self.destinations, self.try_counts)

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
            blocked.append(Blocked("NOT_IDLE", f"the target is {self.status}, not idle"))
        on_list = blocked_destinations(self.destinations, self.outdial_id, do_not_call, now)
        eligible = [
            n
            for n in range(DESTINATION_SLOTS)
            if plan.is_eligible(n, self.destinations, self.try_counts)
            and destination_index in (None, n)
        ]
        judged = next((n for n in eligible if n not in on_list), None)
        if not eligible:
            blocked.append(Blocked("NO_TRIES_LEFT", "no destination has tries left under the plan"))
        elif judged is None:
            entries = tuple(dict.fromkeys(e for n in eligible for e in on_list[n]))
            which = ", ".join(f"destination_{n}" for n in eligible)
            blocked.append(
                Blocked("ON_DO_NOT_CALL", f"{which} on the do-not-call list", entries=entries)
            )
        ready_at = None
        if self.last_dial_ended_at is not None:
            ready_at = self.last_dial_ended_at + timedelta(milliseconds=plan.try_interval)
            if honour_try_interval and now < ready_at:
                blocked.append(
                    Blocked(
                        "TRY_INTERVAL", f"the try_interval has not passed (ready at {ready_at})"
                    )
                )
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
        return Availability(tuple(blocked), judged, ready_at, zones)

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
