"""Group commit: the events of commands saved at the same moment go to the event store in
one transaction (one lock, one flush to disk) instead of one each.

A command's thread encodes its own events, then joins the queue. If no group is being
committed it leads: it takes everything queued (up to GROUP_EVENTS_MAX events) and
inserts it in one transaction, while the commands arriving meanwhile queue for the next
group. A command alone commits at once; under concurrency the groups grow by themselves,
with no timer to wait for.

What each command is told is what it would have been told alone:
- nothing is answered before its group has committed;
- when the group's transaction fails on a conflict (IntegrityError: two commands of the
  group on one aggregate, or another writer first), each of its commands is committed
  again alone, in the order they arrived, so only the ones that really conflict fail and
  the first of two on one aggregate wins, as it would have alone;
- a command whose events cannot be encoded fails before it joins, never its group;
- any other failure of the store (unreachable, the commit lost) is every member's: it
  would have failed each of them alone, and committing them again might store twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Mapper, StoredEvent

from application.ports import Recorded

ApplyWithin = Callable[[Any, list[Recorded]], Callable[[bool], None]]

# Events one group's transaction holds at most (a group has at least one command, however
# large): a group stays one short transaction when bulk writers queue.
GROUP_EVENTS_MAX = 5_000


@dataclass(eq=False)  # each command is itself: found in the queue by identity
class _Command:
    events: Sequence[Any]
    stored: list[StoredEvent]
    recorded: list[Recorded] | None = None
    error: BaseException | None = None
    done: bool = False

    def answer(self) -> list[Recorded]:
        if self.error is not None:
            raise self.error
        assert self.recorded is not None
        return self.recorded


@dataclass
class CommitCounts:
    """Event-store transactions and the commands they saved, since the process started."""

    transactions: int = 0
    commands: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, transactions: int, commands: int) -> None:
        with self.lock:
            self.transactions += transactions
            self.commands += commands


class GroupCommit:
    """Saves domain events as ``EventStore.put`` does, several commands per transaction,
    answering each event with its notification id (not the library's ``Recording``: what
    its callers read, without building a notification of each event)."""

    def __init__(
        self,
        mapper: Mapper[Any],
        recorder: ApplicationRecorder,
        *,
        events_max: int = GROUP_EVENTS_MAX,
        committed: Callable[[Sequence[StoredEvent]], None] = lambda stored: None,
    ) -> None:
        self._mapper = mapper
        self._committed = committed
        self._recorder = recorder
        self._events_max = events_max
        self._changed = threading.Condition()
        self._queued: list[_Command] = []
        self._committing = False
        self.counts = CommitCounts()
        # Applies a group's events in its own transaction, once its events are inserted
        # (the live projection, where the read model shares the event store's database):
        # answers what to call when that transaction has ended, or raises to leave them
        # to be applied after it (the recorder rolls back to before it was called).
        self.applying_within: ApplyWithin | None = None

    def put(self, events: Sequence[Any]) -> list[Recorded]:
        """Record ``events`` in one transaction (perhaps shared with other commands'),
        returning each with its notification id once that transaction has committed."""
        if not events:
            return []
        command = _Command(events, [self._mapper.to_stored_event(e) for e in events])
        with self._changed:
            self._queued.append(command)
        while True:
            with self._changed:
                while self._committing and not command.done:
                    self._changed.wait()
                if command.done:
                    return command.answer()
                # Lead: the group is what is queued, this command perhaps not in it when
                # the commands ahead of it fill the group (then it leads the next one).
                self._committing = True
                group = self._take_group()
            try:
                self._commit(group)
            except BaseException as error:  # _commit answers every Exception itself
                with self._changed:
                    if command in self._queued:
                        self._queued.remove(command)
                _fail([m for m in [*group, command] if not m.done], error)
                raise
            finally:
                with self._changed:
                    self._committing = False
                    self._changed.notify_all()

    def _within(self, group: list[_Command], ended: list[Callable[[bool], None]]) -> dict[str, Any]:
        """The recorder's arguments that apply the group's events in its transaction
        (``applying_within``), when something does: what to apply, and where the recorder
        puts what to call once the transaction has ended."""
        if self.applying_within is None:
            return {}
        apply = self.applying_within
        events = [event for command in group for event in command.events]

        def within(cursor: Any, ids: Sequence[int]) -> Callable[[bool], None]:
            return apply(cursor, list(zip(ids, events, strict=True)))

        return {"within": within, "ended": ended}

    def _take_group(self) -> list[_Command]:
        """The queued commands in arrival order, up to the group's size (called locked)."""
        size = 0
        taken = 0
        for taken, command in enumerate(self._queued, start=1):  # noqa: B007
            size += len(command.stored)
            if size >= self._events_max:
                break
        group, self._queued = self._queued[:taken], self._queued[taken:]
        return group

    def _commit(self, group: list[_Command]) -> None:
        stored = [event for command in group for event in command.stored]
        ended: list[Callable[[bool], None]] = []
        try:
            ids = self._recorder.insert_events(stored, **self._within(group, ended))
        except IntegrityError as error:
            _end(ended, committed=False)
            self.counts.add(1, 0)
            if len(group) == 1:
                _fail(group, error)
            else:  # each again alone, in arrival order: only the real conflicts fail
                for command in group:
                    self._commit([command])
            return
        except Exception as error:
            _end(ended, committed=False)
            self.counts.add(1, 0)
            _fail(group, error)
            return
        _end(ended, committed=True)
        self.counts.add(1, len(group))
        self._committed(stored)
        start = 0
        for command in group:
            end = start + len(command.stored)
            command.recorded = list(zip(ids[start:end], command.events, strict=True)) if ids else []
            command.done = True
            start = end


def _end(ended: list[Callable[[bool], None]], *, committed: bool) -> None:
    for end in ended:
        end(committed)


def _fail(group: list[_Command], error: BaseException) -> None:
    for command in group:
        command.error, command.done = error, True
