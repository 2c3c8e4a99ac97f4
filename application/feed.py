"""The event feed: a customer's events in the order they were recorded, read after a
position and filtered by outdial, target and type, for integrators that follow the log
(a page at a time, a stream, a webhook) rather than poll tables.

A position is the event store's notification id: global, increasing, with gaps. The feed
reads the log itself and only up to the position the read model has applied, where it
learns whose each aggregate is (its customer and outdial, which never change): an event
later than that is served once the read model has it, a moment later.

A reader of one customer among many examines everyone's events; ``next_after`` says how
far it looked, so a filtered reader moves on even when nothing matched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, cast
from uuid import UUID

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import Notification

from application.history import EventRecord, event_record
from application.sealing import read_ahead
from application.service import OutdialService
from domain.do_not_call import DoNotCallEntry
from domain.erasure import Erasure
from domain.outdial import Outdial
from domain.target import Target

log = logging.getLogger(__name__)

_TOPIC_PREFIX = "outdial:"
# Every event type the feed shows ("Target.DialStarted", ...): what ``types`` may name;
# a base class that is never recorded itself (DoNotCallEntry.Created) is left out.
EVENT_TYPES = frozenset(
    str(getattr(value, "TOPIC")).removeprefix(_TOPIC_PREFIX)  # noqa: B009
    for aggregate in (Target, Outdial, DoNotCallEntry, Erasure)
    for value in vars(aggregate).values()
    if isinstance(value, type) and "." in getattr(value, "TOPIC", "") and not value.__subclasses__()
)
LIMIT_MAX = 1_000
# How many events one read examines at most, the customer's or not: a reader of a store
# shared by many customers gets an answer in bounded time and moves on by next_after.
EXAMINE_MAX = 10_000
_READ_PAGE = 1_000
# Owners remembered by one process (an aggregate's owner never changes).
OWNERS_REMEMBERED = 200_000


@dataclass(frozen=True)
class Owner:
    """Whose an aggregate is: its customer, and the outdial of a target or outdial (or a
    do-not-call entry scoped to one); None for an entry of every outdial."""

    aggregate: str  # target, outdial or do_not_call
    customer_id: UUID
    outdial_id: UUID | None


class Owners(Protocol):
    def owners_of(
        self, aggregate_ids: Collection[UUID]
    ) -> dict[UUID, tuple[str, UUID, UUID | None]]:
        """(aggregate, customer id, outdial id) of each of these aggregates the read
        model holds."""
        ...


@dataclass(frozen=True)
class FeedFilter:
    """What a reader follows of its customer's events: all, or one outdial's, one
    target's, or some types (``Target.DialFinished``, ...)."""

    customer_id: UUID
    outdial_id: UUID | None = None
    target_id: UUID | None = None
    types: frozenset[str] | None = None

    def admits(self, aggregate_id: UUID, type_name: str) -> bool:
        """What the notification tells before its owner is looked up or it is decoded."""
        if self.target_id is not None and aggregate_id != self.target_id:
            return False
        return self.types is None or type_name in self.types

    def owned(self, owner: Owner) -> bool:
        return owner.customer_id == self.customer_id and (
            self.outdial_id is None or owner.outdial_id == self.outdial_id
        )

    def matches(self, event: FeedEvent) -> bool:
        return self.owned(event.owner) and self.admits(event.aggregate_id, event.type)


@dataclass(frozen=True)
class FeedEvent:
    position: int
    aggregate_id: UUID
    type: str  # Target.DialStarted, Outdial.Paused, DoNotCallEntry.Added, ...
    owner: Owner
    record: EventRecord  # version, timestamp and the event's own fields (with its actor)


@dataclass(frozen=True)
class FeedPage:
    events: list[FeedEvent]
    next_after: int  # the last position examined: where the next read starts


class Feed:
    """Reads a store's events for the feed, one customer's at a time, up to the position
    ``applied`` says the read model has reached."""

    def __init__(self, service: OutdialService, owners: Owners, applied: Callable[[], int]) -> None:
        self.service = service
        self._owners = owners
        self.applied = applied
        self._known: OrderedDict[UUID, Owner] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, feed_filter: FeedFilter, after: int, *, limit: int) -> FeedPage:
        """Up to ``limit`` events after ``after`` that the filter matches, oldest first,
        examining at most EXAMINE_MAX events, up to where the read model has applied."""
        stop = self.applied()
        found: list[FeedEvent] = []
        examined = after
        while examined < stop and len(found) < limit and examined - after < EXAMINE_MAX:
            notifications = self.service.recorder.select_notifications(
                start=examined, limit=_READ_PAGE, stop=stop, inclusive_of_start=False
            )
            if not notifications:
                examined = stop  # only gaps up to there
                break
            for event in self.decoded(notifications, feed_filter):
                found.append(event)
                if len(found) == limit:
                    examined = event.position
                    break
            else:
                examined = notifications[-1].id
        return FeedPage(found, max(examined, after))

    def decoded(
        self, notifications: Sequence[Notification], feed_filter: FeedFilter | None = None
    ) -> Iterator[FeedEvent]:
        """The notifications as feed events with their owners, oldest first: every one
        of an aggregate of the feed's, or only those the filter matches (the others are
        not decoded)."""
        if feed_filter is not None:
            notifications = [
                n
                for n in notifications
                if feed_filter.admits(_uuid(n.originator_id), _type_of(n.topic))
            ]
        owners = self._owners_of({_uuid(n.originator_id) for n in notifications})
        owned = [
            (n, owner)
            for n in notifications
            if (owner := owners.get(_uuid(n.originator_id))) is not None
            and (feed_filter is None or feed_filter.owned(owner))
        ]
        mapper = self.service.reading_mapper()
        read_ahead(mapper, [n for n, _ in owned])  # keys of these alone
        to_domain_event = mapper.to_domain_event
        for notification, owner in owned:
            domain_event = cast(CanMutateAggregate[UUID], to_domain_event(notification))
            yield FeedEvent(
                position=notification.id,
                aggregate_id=domain_event.originator_id,
                type=_type_of(notification.topic),
                owner=owner,
                record=event_record(domain_event),
            )

    def _owners_of(self, aggregate_ids: set[UUID]) -> dict[UUID, Owner]:
        with self._lock:
            owners = {i: self._known[i] for i in aggregate_ids if i in self._known}
        missing = aggregate_ids - owners.keys()
        if missing:
            looked_up = {i: Owner(*o) for i, o in self._owners.owners_of(missing).items()}
            owners.update(looked_up)
            with self._lock:
                self._known.update(looked_up)
                while len(self._known) > OWNERS_REMEMBERED:
                    self._known.popitem(last=False)
        return owners


def _type_of(topic: str) -> str:
    return topic.removeprefix(_TOPIC_PREFIX)


# Told each page of new events (every customer's) and the position they reach.
Told = Callable[[list[FeedEvent], int], None]
# Waits until the read model has applied a position, or the timeout passes.
WaitApplied = Callable[[int, float], object]
FOLLOW_WAIT_S = 1.0
FOLLOW_RETRY_S = 1.0


class FeedFollower:
    """The one reader of new events for every live stream of a process: it reads each
    event once, as soon as the read model has applied it, and tells every subscriber,
    who picks its own; with no subscriber it reads nothing."""

    def __init__(self, feed: Feed, wait_applied: WaitApplied) -> None:
        self._feed = feed
        self._wait_applied = wait_applied
        self._subscribers: dict[int, Told] = {}
        self._next_id = 0
        self._position = 0
        self._changed = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def subscribe(self, tell: Told) -> Callable[[], None]:
        """Tell ``tell`` of every event the read model applies from now on; the answer
        ends it. Events up to the read model's position now are the subscriber's to read
        (Feed.read): from there on nothing is missed."""
        with self._changed:
            if not self._subscribers:
                self._position = self._feed.applied()  # idle until now: start here
            self._next_id += 1
            number = self._next_id
            self._subscribers[number] = tell
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="feed", daemon=True)
                self._thread.start()
            self._changed.notify_all()

        def unsubscribe() -> None:
            with self._changed:
                self._subscribers.pop(number, None)

        return unsubscribe

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._subscribers and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                position = self._position
            try:
                self._wait_applied(position + 1, FOLLOW_WAIT_S)
                self._tell_up_to(self._feed.applied())
            except Exception:
                log.exception("the event feed could not read new events; trying again")
                time.sleep(FOLLOW_RETRY_S)

    def _tell_up_to(self, head: int) -> None:
        recorder = self._feed.service.recorder
        while True:
            with self._changed:
                position = self._position
            if position >= head:
                return
            notifications = recorder.select_notifications(
                start=position, limit=_READ_PAGE, stop=head, inclusive_of_start=False
            )
            events = list(self._feed.decoded(notifications))
            reached = notifications[-1].id if notifications else head
            with self._changed:
                if self._position != position:
                    continue  # idle and started again meanwhile: from its new position
                self._position = reached
                subscribers = list(self._subscribers.values())
            for tell in subscribers:
                tell(events, reached)


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)
