"""History, read from the event store: a target's events, its state at a version or a
time, and its replay, event by event; an outdial's and a do-not-call entry's events.

Replay uses the domain's own aggregate, so this is the authority that the read model
is verified against.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import CanMutateAggregate

from application.errors import (
    DoNotCallEntryNotFound,
    OutdialNotFound,
    TargetNotFound,
    VersionNotFound,
)
from application.sealing import ERASED
from application.service import OutdialService
from domain.do_not_call import DoNotCallEntry
from domain.outdial import Outdial
from domain.target import Target

_EVENT_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


@dataclass(frozen=True)
class EventRecord:
    """A stored event as auditors read it: version, type, time and its own data."""

    version: int
    type: str
    timestamp: datetime
    data: dict[str, Any]
    erased: bool = False  # read after its target's key was destroyed: personal fields blank


def stored_events(app: OutdialService, aggregate_id: UUID) -> list[CanMutateAggregate[UUID]]:
    """An aggregate's events from the store, oldest first, without any scoping."""
    return [cast(CanMutateAggregate[UUID], e) for e in app.reading_events().get(aggregate_id)]


def event_record(event: CanMutateAggregate[UUID]) -> EventRecord:
    # Every field of the event's class, so one stored before a field existed shows its
    # default (an old DialStarted: actor "", manual false) like a new one.
    data = {k: v for k, v in vars(event).items() if k not in _EVENT_ENVELOPE}
    erased = bool(data.pop(ERASED, False))
    for name in _fields_of(type(event)):
        if name not in data:
            data[name] = getattr(event, name)
    return EventRecord(
        version=event.originator_version,
        type=type(event).__name__,
        timestamp=event.timestamp,
        data=data,
        erased=erased,
    )


# The fields of each event class outside the envelope, in declaration order, looked up
# once per class rather than by ``dataclasses.fields`` for every event.
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields_of(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = (
            tuple(f.name for f in dataclasses.fields(kind) if f.name not in _EVENT_ENVELOPE)
            if dataclasses.is_dataclass(kind)
            else ()
        )
        _FIELDS[kind] = names
    return names


def target_events(
    app: OutdialService, customer_id: UUID, outdial_id: UUID, target_id: UUID
) -> list[CanMutateAggregate[UUID]]:
    """The target's stored events, oldest first (scoped like every other read: its
    Created event names the customer and the outdial it belongs to)."""
    missing = TargetNotFound(f"target {target_id} not found in outdial {outdial_id}")
    return _owned_events(
        app, target_id, Target.Created, customer_id, missing, outdial_id=outdial_id
    )


def outdial_events(
    app: OutdialService, customer_id: UUID, outdial_id: UUID
) -> list[CanMutateAggregate[UUID]]:
    """The outdial's stored events, oldest first: who paused it, when and why."""
    missing = OutdialNotFound(f"outdial {outdial_id} not found")
    return _owned_events(app, outdial_id, Outdial.Created, customer_id, missing)


def do_not_call_events(
    app: OutdialService, customer_id: UUID, entry_id: UUID
) -> list[CanMutateAggregate[UUID]]:
    """The do-not-call entry's stored events, oldest first: who added, changed and
    removed it."""
    missing = DoNotCallEntryNotFound(f"do-not-call entry {entry_id} not found")
    return _owned_events(app, entry_id, DoNotCallEntry.Added, customer_id, missing)


def _owned_events(
    app: OutdialService,
    aggregate_id: UUID,
    first: type,
    customer_id: UUID,
    missing: Exception,
    **belongs_to: UUID,
) -> list[CanMutateAggregate[UUID]]:
    """An aggregate's stored events when its first event is of type ``first`` and names
    this customer (and ``belongs_to``'s values), else ``missing``: reads scoped like
    every other read."""
    events = stored_events(app, aggregate_id)
    created = events[0] if events else None
    if (
        not isinstance(created, first)
        or getattr(created, "customer_id", None) != customer_id
        or any(getattr(created, name) != value for name, value in belongs_to.items())
    ):
        raise missing
    return events


def target_at_version(
    app: OutdialService, customer_id: UUID, outdial_id: UUID, target_id: UUID, version: int
) -> Target:
    # Read with its key as stored (it may be erased), from a snapshot where one is: not
    # through the service's own copy, which would read a deleted target's every event.
    missing = TargetNotFound(f"target {target_id} not found in outdial {outdial_id}")
    try:  # no such version: its last, which the refusal names
        target = app.reading_target(target_id, version if version >= 1 else None)
    except TargetNotFound:
        raise missing from None
    if target.customer_id != customer_id or target.outdial_id != outdial_id:
        raise missing
    if version < 1 or target.version < version:
        raise VersionNotFound(f"target {target_id} has versions 1 to {target.version}")
    return target


def target_at_time(
    app: OutdialService, customer_id: UUID, outdial_id: UUID, target_id: UUID, at: datetime
) -> Target:
    events = [
        e for e in target_events(app, customer_id, outdial_id, target_id) if e.timestamp <= at
    ]
    if not events:
        raise VersionNotFound(f"target {target_id} did not exist at {at}")
    return replay(events)


def replay(events: Iterable[CanMutateAggregate[UUID]]) -> Target:
    """Rebuild a target from its events, as the repository does."""
    target: Any = None
    for event in events:
        target = event.mutate(target)
    if target is None:
        msg = "no events to replay"
        raise ValueError(msg)
    assert isinstance(target, Target)
    return target


def replay_steps(
    events: Iterable[CanMutateAggregate[UUID]],
) -> Iterator[tuple[EventRecord, Target]]:
    """Each event with the target as it stands after it.

    The target is one object that each event moves on, so read it before the next step.
    """
    target: Any = None
    for event in events:
        target = event.mutate(target)
        yield event_record(event), target
