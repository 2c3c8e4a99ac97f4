"""The outdial application: one method per use case, each a few lines.

Every command loads aggregates scoped by customer, lets the domain decide, and saves the
new events in one atomic write. It answers ``Written``: its result and the position of
its last event, for callers that wait until the read model shows the write. A lost
optimistic-concurrency race surfaces as ``ConcurrentChange`` so callers can retry.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    Repository,
    project_aggregate,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, IntegrityError, JSONTranscoder, Mapper

from application.dispatch import Candidates, Dispatched, Dispatcher
from application.erasing import ErasureCandidates, StoredInPlaintext
from application.errors import (
    ConcurrentChange,
    DoNotCallEntryNotFound,
    ErasureNotFound,
    OutdialNotFound,
    TargetNotFound,
)
from application.group_commit import GroupCommit
from application.ids import NEW_IDS, IdSource
from application.ports import RecordedListener, bulk_reads_of
from application.sealing import (
    SEALED_MARK,
    SealingMapper,
    TargetKeyStore,
    read_ahead,
    was_sealed,
)
from application.transcoding import register_domain_transcodings
from application.written import Written
from domain.address import Address
from domain.availability import Availability
from domain.calling_window import CallingWindow
from domain.do_not_call import (
    EVERY_OUTDIAL,
    NO_ENTRIES,
    DoNotCall,
    DoNotCallEntry,
    candidate_entry_ids,
    checked_entry_target,
    entry_id,
    rules_of,
)
from domain.erasure import TARGET_IDS_MAX, Erasure
from domain.errors import InvalidValue, TargetNotDialable
from domain.outdial import NO_CAMPAIGN, Outdial
from domain.plan import Plan
from domain.target import SWEEPER, Dial, Target
from domain.text import checked_name

Clock = Callable[[], datetime]
BATCH_MAX = 1_000
TARGET_SNAPSHOT_INTERVAL = 50
# Recently used aggregates stay in memory; each use still reads any newer events first
# (fast-forward), so a cached aggregate is never staler than the store, whoever wrote it.
AGGREGATE_CACHE = {"AGGREGATE_CACHE_MAXSIZE": "5000", "AGGREGATE_CACHE_FASTFORWARD": "y"}

A = TypeVar("A", bound=Aggregate)
T = TypeVar("T")


def _nothing(_: object) -> None:
    """Nothing to do (after a commit without sealing)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewEntry:
    """What a caller gives to add a do-not-call entry. ``reason`` None and ``expires_at``
    not given (``keep_expiry``) keep what an entry that exists has."""

    target: str
    match: str = "exact"
    outdial_id: UUID = EVERY_OUTDIAL
    reason: str | None = None
    expires_at: datetime | None = None
    keep_expiry: bool = True


@dataclass(frozen=True)
class NewTarget:
    """What a caller gives to create a target; addresses are already valid."""

    destinations: Sequence[Address | None]
    name: str = ""
    detail: str = ""
    data: str = ""
    id: UUID | None = None


class OutdialService(Application[UUID]):
    """Outdials, their targets, and every dial made to them."""

    # Pinned: the name keys tracking rows and the store; a class rename must not change it.
    name = "outdial"
    snapshotting_intervals = {Target: TARGET_SNAPSHOT_INTERVAL}  # noqa: RUF012

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Clock = utc_now,
        keys: TargetKeyStore | None = None,
    ) -> None:
        """``env``: the library's settings of the event store (the in-memory store when
        none are given); ``keys``: where targets' keys are kept, to seal their personal
        fields in the store (application/sealing.py; without, they are stored plain)."""
        self._keys = keys
        super().__init__({**AGGREGATE_CACHE, **(env or {})})
        self.clock = clock
        self._dispatcher = Dispatcher()
        self._bulk = bulk_reads_of(self.recorder)
        self._listeners: list[RecordedListener] = []
        sealing = self.mapper if isinstance(self.mapper, SealingMapper) else None
        self.commits = GroupCommit(
            self.mapper, self.recorder, committed=sealing.committed if sealing else _nothing
        )

    def on_recorded(self, listener: RecordedListener) -> None:
        """``listener`` is given the events of each write this service records, with
        their notification ids, once they are committed (the live projection of this
        process applies them without reading them back)."""
        self._listeners.append(listener)

    def construct_mapper(self) -> Mapper[UUID]:
        if self._keys is None:
            return super().construct_mapper()
        return SealingMapper(self.construct_transcoder(), keys=self._keys)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    # -- outdials ---------------------------------------------------------------

    def create_outdial(
        self,
        customer_id: UUID,
        *,
        name: str = "",
        detail: str = "",
        data: str = "",
        campaign_id: UUID = NO_CAMPAIGN,
        ids: IdSource = NEW_IDS,
        actor: str = "",
    ) -> Written[Outdial]:
        """A new outdial; with ids a repeated request had, the one it made, if it did."""
        outdial_id = ids.outdial_id()
        if ids.repeatable and self._exists(outdial_id):
            return Written(self.get_outdial(customer_id, outdial_id), None)
        outdial = Outdial.create(
            outdial_id=outdial_id,
            customer_id=customer_id,
            campaign_id=campaign_id,
            name=name,
            detail=detail,
            data=data,
            at=self.clock(),
            actor=actor,
        )
        return self._save(outdial, answer=outdial)

    def customer_of_outdial(self, outdial_id: UUID) -> UUID:
        """The customer an outdial belongs to: for the console, which acts for all."""
        return self._load(Outdial, outdial_id, OutdialNotFound).customer_id

    def customer_of_target(self, target_id: UUID) -> UUID:
        """The customer a target belongs to: for the console, which acts for all."""
        return self._load(Target, target_id, TargetNotFound).customer_id

    def get_outdial(self, customer_id: UUID, outdial_id: UUID) -> Outdial:
        outdial = self._load(Outdial, outdial_id, OutdialNotFound)
        if outdial.customer_id != customer_id:
            raise OutdialNotFound(f"outdial {outdial_id} not found")
        return outdial

    def update_outdial(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        *,
        name: str | None = None,
        detail: str | None = None,
        actor: str = "",
    ) -> Written[Outdial]:
        """Change the name and the detail; one left out (None) keeps its value."""
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.update(
            name=outdial.name if name is None else name,
            detail=outdial.detail if detail is None else detail,
            at=self.clock(),
            actor=actor,
        )
        return self._save(outdial, answer=outdial)

    def change_outdial_campaign(
        self, customer_id: UUID, outdial_id: UUID, campaign_id: UUID, *, actor: str = ""
    ) -> Written[Outdial]:
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.change_campaign(campaign_id=campaign_id, at=self.clock(), actor=actor)
        return self._save(outdial, answer=outdial)

    def change_outdial_data(
        self, customer_id: UUID, outdial_id: UUID, data: str, *, actor: str = ""
    ) -> Written[Outdial]:
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.change_data(data=data, at=self.clock(), actor=actor)
        return self._save(outdial, answer=outdial)

    def change_outdial_plan(
        self, customer_id: UUID, outdial_id: UUID, changes: Mapping[str, Any], *, actor: str = ""
    ) -> Written[Outdial]:
        """Set the outdial's default plan; fields left out keep their value."""
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.change_plan(plan=outdial.plan.with_changes(changes), at=self.clock(), actor=actor)
        return self._save(outdial, answer=outdial)

    def pause_outdial(
        self, customer_id: UUID, outdial_id: UUID, *, reason: str = "", actor: str = ""
    ) -> Written[Outdial]:
        """Stop its targets being dialed; pausing a paused outdial records nothing."""
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.pause(reason=reason, at=self.clock(), actor=actor)
        return self._save(outdial, answer=outdial)

    def resume_outdial(
        self, customer_id: UUID, outdial_id: UUID, *, actor: str = ""
    ) -> Written[Outdial]:
        """Dial its targets again; resuming a running outdial records nothing."""
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.resume(at=self.clock(), actor=actor)
        return self._save(outdial, answer=outdial)

    def change_calling_window(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        window: CallingWindow | None,
        *,
        actor: str = "",
    ) -> Written[Outdial]:
        """Set the outdial's calling window, or remove it (None: dial at any time)."""
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.change_calling_window(window=window, at=self.clock(), actor=actor)
        return self._save(outdial, answer=outdial)

    def delete_outdial(
        self, customer_id: UUID, outdial_id: UUID, *, actor: str = ""
    ) -> Written[Outdial]:
        """Soft-delete once; deleting again records nothing and answers the same outdial."""
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.delete(at=self.clock(), actor=actor)
        return self._save(outdial, answer=outdial)

    # -- targets ----------------------------------------------------------------

    def create_target(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        new: NewTarget,
        *,
        ids: IdSource = NEW_IDS,
        actor: str = "",
    ) -> Written[Target]:
        written = self._create_targets(
            customer_id, outdial_id, [new], batch=False, ids=ids, actor=actor
        )
        return Written(written.value[0], written.position)

    def create_targets(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        batch: Sequence[NewTarget],
        *,
        ids: IdSource = NEW_IDS,
        actor: str = "",
    ) -> Written[list[Target]]:
        """Create a batch of targets in one atomic write: all of them or none."""
        _check_batch_size(batch)
        return self._create_targets(
            customer_id, outdial_id, batch, batch=True, ids=ids, actor=actor
        )

    def create_missing_targets(
        self, customer_id: UUID, outdial_id: UUID, batch: Sequence[NewTarget], *, actor: str = ""
    ) -> Written[list[Target]]:
        """Create those of a batch of targets with given ids that do not exist yet, in one
        atomic write: what an import run again makes of rows an earlier run wrote, however
        its batches fell. An id taken by anything but this outdial's target is refused."""
        _check_batch_size(batch)
        ids = [new.id for new in batch if new.id is not None]
        if len(ids) != len(batch):
            raise InvalidValue("id", "every target of the batch needs its id")
        there = self._bulk.existing_originators(ids)
        if there:
            ours = {t.id for t in self._targets_of(customer_id, outdial_id, list(there))}
            taken = sorted(there - ours)
            if taken:
                raise InvalidValue("id", f"{taken[0]} is taken by another resource")
        missing = [(new.id, new) for new in batch if new.id is not None and new.id not in there]
        if not missing:
            return Written([], None)
        return self._write_targets(customer_id, outdial_id, missing, batch=True, actor=actor)

    def _create_targets(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        news: Sequence[NewTarget],
        *,
        batch: bool,
        ids: IdSource,
        actor: str,
    ) -> Written[list[Target]]:
        target_ids = self._target_ids(news, ids)
        if ids.repeatable and self._exists(target_ids[0]):
            # Made before by the same request, repeated (the batch is all or none).
            return Written([self.get_target(customer_id, outdial_id, i) for i in target_ids], None)
        named = list(zip(target_ids, news, strict=True))
        return self._write_targets(customer_id, outdial_id, named, batch=batch, actor=actor)

    def _target_ids(self, news: Sequence[NewTarget], ids: IdSource) -> list[UUID]:
        """Each new target's id: its own, or else the source's. Fresh ones, where targets
        are sealed, come with their keys stored ahead (``TargetKeyStore.new_target_ids``)."""
        if ids.repeatable or self._keys is None:
            return [new.id or ids.target_id(n) for n, new in enumerate(news)]
        fresh = iter(self._keys.new_target_ids(sum(new.id is None for new in news)))
        return [new.id or next(fresh) for new in news]

    def _write_targets(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        news: Sequence[tuple[UUID, NewTarget]],
        *,
        batch: bool,
        actor: str,
    ) -> Written[list[Target]]:
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.check_takes_targets()
        at = self.clock()
        targets = [
            _new_target(
                target_id,
                new,
                outdial_id,
                customer_id,
                at,
                field=f"targets[{n}]" if batch else "",
                actor=actor,
            )
            for n, (target_id, new) in enumerate(news)
        ]
        return self._save(*targets, answer=targets)

    def get_target(self, customer_id: UUID, outdial_id: UUID, target_id: UUID) -> Target:
        target = self._load(Target, target_id, TargetNotFound)
        if target.customer_id != customer_id or target.outdial_id != outdial_id:
            raise TargetNotFound(f"target {target_id} not found in outdial {outdial_id}")
        return target

    def delete_target(
        self, customer_id: UUID, outdial_id: UUID, target_id: UUID, *, actor: str = ""
    ) -> Written[Target]:
        """Soft-delete once; deleting again records nothing and answers the same target."""
        target = self.get_target(customer_id, outdial_id, target_id)
        target.delete(at=self.clock(), actor=actor)
        return self._save(target, answer=target)

    # -- dialing ----------------------------------------------------------------

    def start_dial(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        target_id: UUID,
        *,
        plan_changes: Mapping[str, Any] | None = None,
        destination_index: int | None = None,
        reference_id: str = "",
        manual: bool = True,
        ids: IdSource = NEW_IDS,
        actor: str = "",
    ) -> Written[Dial]:
        """Start one dial. ``manual`` (an operator's redial) does not wait for try_interval.
        With ids a repeated request had, the dial it started, if it did."""
        outdial = self.get_outdial(customer_id, outdial_id)
        target = self.get_target(customer_id, outdial_id, target_id)
        dial_id = ids.dial_id()
        if ids.repeatable and str(dial_id) in target.dials:
            return Written(target.dials[str(dial_id)], None)
        dial = target.start_dial(
            dial_id=dial_id,
            plan=outdial.plan.with_changes(plan_changes or {}),
            destination_index=destination_index,
            reference_id=reference_id,
            at=self.clock(),
            honour_try_interval=not manual,
            outdial_blocking=outdial.blocking(),
            window=outdial.calling_window,
            do_not_call=self.do_not_call_of(customer_id, [target]),
            actor=actor,
        )
        return self._save(target, answer=dial)

    def availability(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        target_id: UUID,
        *,
        plan_changes: Mapping[str, Any] | None = None,
    ) -> tuple[Availability, Plan]:
        """Why the target may or may not be dialed now, judged as dispatch judges it (its
        outdial's rules included), and the plan judged."""
        outdial = self.get_outdial(customer_id, outdial_id)
        target = self.get_target(customer_id, outdial_id, target_id)
        plan = outdial.plan.with_changes(plan_changes or {})
        judged = target.availability(
            plan,
            self.clock(),
            outdial_blocking=outdial.blocking(),
            window=outdial.calling_window,
            do_not_call=self.do_not_call_of(customer_id, [target]),
        )
        return judged, plan

    def finish_dial(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        target_id: UUID,
        dial_id: UUID,
        *,
        result: str,
        reason: str = "",
        actor: str = "",
    ) -> Written[Target]:
        """Record a dial's result; repeating the same finish records nothing."""
        target = self.get_target(customer_id, outdial_id, target_id)
        at = self.clock()
        recorded = target.finish_dial(
            dial_id=dial_id, result=result, reason=reason, at=at, actor=actor
        )
        listed = self._listed_by_rule(target, dial_id, at=at, actor=actor) if recorded else []
        return self._save(target, *listed, answer=target)

    def dispatch(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        *,
        limit: int,
        candidates: Candidates,
        plan_changes: Mapping[str, Any] | None = None,
        ids: IdSource = NEW_IDS,
        actor: str = "",
    ) -> Written[Dispatched]:
        """Claim up to ``limit`` available targets and start one dial on each (see
        application.dispatch); a deleted outdial dispatches nothing.

        With ids a repeated request had, the dials it started, if it started any, instead
        of dispatching again.
        """
        outdial = self.get_outdial(customer_id, outdial_id)
        if ids.repeatable:
            earlier = candidates.dials_with_ids(
                customer_id, outdial_id, [ids.dial_id(n) for n in range(limit)]
            )
            if earlier:
                return Written(
                    [
                        (t, self.get_target(customer_id, outdial_id, t).dials[str(d)])
                        for t, d in earlier
                    ],
                    None,
                )
        plan = outdial.plan.with_changes(plan_changes or {})
        if outdial.blocking():
            return Written([], None)  # none of its targets may be dialed

        def find(wanted: int) -> list[UUID]:
            return candidates.available_target_ids(
                customer_id, outdial_id, plan=plan, now=self.clock(), limit=wanted
            )

        def start(target_ids: list[UUID], already: int) -> Written[Dispatched]:
            at = self.clock()
            started: Dispatched = []
            targets: list[Target] = []
            claimed = self._targets_of(customer_id, outdial_id, target_ids)
            do_not_call = self.do_not_call_of(customer_id, claimed)
            for target in claimed:
                dial_id = ids.dial_id(already + len(started))
                try:
                    dial = target.start_dial(
                        dial_id=dial_id,
                        plan=plan,
                        at=at,
                        outdial_blocking=outdial.blocking(),
                        window=outdial.calling_window,
                        do_not_call=do_not_call,
                        actor=actor,
                    )
                except TargetNotDialable:
                    # Taken, finished or deleted since the read model proposed it, or
                    # blocked by an entry the read model does not show yet.
                    continue
                started.append((target.id, dial))
                targets.append(target)
            return self._save(*targets, answer=started)

        return self._dispatcher.run(limit=limit, find=find, start=start)

    def time_out_dial(self, target_id: UUID, dial_id: UUID) -> Written[Target]:
        """The service's own finish of a dial past its plan's dial_timeout."""
        target = self._load(Target, target_id, TargetNotFound)
        at = self.clock()
        target.time_out_dial(dial_id=dial_id, at=at)
        listed = self._listed_by_rule(target, dial_id, at=at, actor=SWEEPER)
        return self._save(target, *listed, answer=target)

    def _listed_by_rule(
        self, target: Target, dial_id: UUID, *, at: datetime, actor: str
    ) -> list[DoNotCallEntry]:
        """The do-not-call entry a ``do_not_call`` rule puts the dialed address on, saved
        in the same atomic write as the finish that decided it (none when no such rule
        decided, or the entry is already there for good). An address no entry can hold
        (an extension that looks like a number but is none) is only finished."""
        decision = target.decision_of(dial_id)
        if decision is None or decision.rule.action != "do_not_call":
            return []
        address = target.dials[str(dial_id)].destination.target
        try:
            checked_entry_target(address, "exact")
        except InvalidValue:
            return []
        the_id = entry_id(target.customer_id, address, "exact", EVERY_OUTDIAL)
        existing = next(iter(self._aggregates_of(DoNotCallEntry, [the_id])), None)
        entry = DoNotCallEntry.for_dial(
            existing,
            customer_id=target.customer_id,
            target=address,
            dial_id=dial_id,
            reason=decision.reason,
            at=at,
            actor=actor,
        )
        return [entry] if entry.pending_events else []

    # -- the do-not-call list ----------------------------------------------------

    def add_do_not_call(
        self, customer_id: UUID, news: Sequence[NewEntry], *, actor: str = ""
    ) -> Written[list[DoNotCallEntry]]:
        """Add entries in one atomic write, all or none. An entry that exists (same
        target, match and scope) is answered, with what was sent of its reason and expiry;
        a removed one is added again under its id."""
        if not 1 <= len(news) <= BATCH_MAX:
            raise InvalidValue("entries", f"must hold between 1 and {BATCH_MAX} entries")
        answer = self.add_do_not_call_entries(customer_id, news, at=self.clock(), actor=actor)
        return self._save(*{e.id: e for e in answer}.values(), answer=answer)

    def add_do_not_call_entries(
        self, customer_id: UUID, news: Sequence[NewEntry], *, at: datetime, actor: str = ""
    ) -> list[DoNotCallEntry]:
        """The entries of an add, with their new events not yet saved: one per new entry,
        in order (an entry sent twice is the same object twice)."""
        scopes = {new.outdial_id for new in news} - {EVERY_OUTDIAL}
        for n, new in enumerate(news):
            if new.outdial_id in scopes:
                try:
                    self.get_outdial(customer_id, new.outdial_id)
                except OutdialNotFound:
                    raise InvalidValue(
                        f"entries[{n}].outdial_id", f"no outdial {new.outdial_id}"
                    ) from None
                scopes.discard(new.outdial_id)
        ids = [entry_id(customer_id, new.target, new.match, new.outdial_id) for new in news]
        existing = {
            entry.id: entry for entry in self._aggregates_of(DoNotCallEntry, list(set(ids)))
        }
        answer: list[DoNotCallEntry] = []
        for n, (new, the_id) in enumerate(zip(news, ids, strict=True)):
            try:
                entry = existing.get(the_id)
                if entry is None:
                    entry = DoNotCallEntry.add(
                        customer_id=customer_id,
                        target=new.target,
                        match=new.match,
                        outdial_id=new.outdial_id,
                        reason=new.reason or "",
                        expires_at=None if new.keep_expiry else new.expires_at,
                        at=at,
                        actor=actor,
                    )
                    existing[the_id] = entry
                else:
                    entry.add_again(
                        reason=new.reason,
                        expires_at=new.expires_at,
                        keep_expiry=new.keep_expiry,
                        at=at,
                        actor=actor,
                    )
            except InvalidValue as error:
                raise InvalidValue(f"entries[{n}].{error.field}", error.problem) from None
            answer.append(entry)
        return answer

    def get_do_not_call(self, customer_id: UUID, entry_id: UUID) -> DoNotCallEntry:
        entry = self._load(DoNotCallEntry, entry_id, DoNotCallEntryNotFound)
        if entry.customer_id != customer_id:
            raise DoNotCallEntryNotFound(f"do-not-call entry {entry_id} not found")
        return entry

    def remove_do_not_call(
        self, customer_id: UUID, entry_id: UUID, *, actor: str = ""
    ) -> Written[DoNotCallEntry]:
        """Remove softly, once; removing again records nothing and answers the entry."""
        entry = self.get_do_not_call(customer_id, entry_id)
        entry.remove(at=self.clock(), actor=actor)
        return self._save(entry, answer=entry)

    def do_not_call_of(self, customer_id: UUID, targets: Sequence[Target]) -> DoNotCall:
        """The entries that may block these targets' destinations, read by id from the
        event store, never from the read model: an entry whose add was answered is seen
        by every decision made after it."""
        ids = {
            candidate
            for target in targets
            for destination in target.destinations
            if destination is not None
            for candidate in candidate_entry_ids(customer_id, target.outdial_id, destination.target)
        }
        if not ids:
            return NO_ENTRIES
        entries = self._aggregates_of(DoNotCallEntry, sorted(ids))
        return rules_of(e for e in entries if e.customer_id == customer_id)

    # -- erasures ----------------------------------------------------------------

    def erase_targets(
        self,
        customer_id: UUID,
        target_ids: Sequence[UUID],
        *,
        reason: str = "",
        ids: IdSource = NEW_IDS,
        actor: str = "",
    ) -> Written[Erasure]:
        """Erase these targets of the customer; one unknown or another's is not found and
        nothing is erased."""
        if not 1 <= len(target_ids) <= TARGET_IDS_MAX:
            raise InvalidValue("target_ids", f"must hold between 1 and {TARGET_IDS_MAX} ids")
        checked_name(reason, "reason")  # before anything is looked up
        if (earlier := self._erased_before(customer_id, ids)) is not None:
            return earlier
        named = list(dict.fromkeys(target_ids))
        targets = self._erasable_targets(customer_id, named, all_found=True)
        return self._erase(customer_id, targets, reason=reason, ids=ids, actor=actor)

    def erase_address(
        self,
        customer_id: UUID,
        address: Address,
        *,
        candidates: ErasureCandidates,
        reason: str = "",
        do_not_call: bool = False,
        ids: IdSource = NEW_IDS,
        actor: str = "",
    ) -> Written[Erasure]:
        """Erase every target of the customer with a destination at this address (none
        is an erasure of no one, recorded all the same); with ``do_not_call`` the address
        goes on the do-not-call list of every outdial in the same atomic write."""
        checked_name(reason, "reason")
        if (earlier := self._erased_before(customer_id, ids)) is not None:
            return earlier
        entries: list[DoNotCallEntry] = []
        if do_not_call:
            entries = self.add_do_not_call_entries(
                customer_id, [NewEntry(target=address.target)], at=self.clock(), actor=actor
            )
        found = candidates.targets_with_address(customer_id, address.target)
        targets = self._erasable_targets(customer_id, found, all_found=False)
        return self._erase(customer_id, targets, reason=reason, ids=ids, actor=actor, also=entries)

    def erase_outdial(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        *,
        candidates: ErasureCandidates,
        reason: str = "",
        ids: IdSource = NEW_IDS,
        actor: str = "",
    ) -> Written[Erasure]:
        """Erase every target of a deleted outdial."""
        outdial = self.get_outdial(customer_id, outdial_id)
        outdial.check_erasable_whole()
        checked_name(reason, "reason")
        if (earlier := self._erased_before(customer_id, ids)) is not None:
            return earlier
        # Thousands of targets: deleted as the list shows them, not read one by one (a
        # list gone stale fails the write: ConcurrentChange).
        listed = candidates.targets_of_outdial(customer_id, outdial_id)
        self._check_sealed([target_id for target_id, *_ in listed])
        targets = [
            Target.as_listed(target_id=i, version=v, modified_on=m, deleted_at=d)
            for i, v, m, d in listed
        ]
        return self._erase(
            customer_id, targets, reason=reason, ids=ids, actor=actor, outdial_id=outdial_id
        )

    def get_erasure(self, customer_id: UUID, erasure_id: UUID) -> Erasure:
        erasure = self._load(Erasure, erasure_id, ErasureNotFound)
        if erasure.customer_id != customer_id:
            raise ErasureNotFound(f"erasure {erasure_id} not found")
        return erasure

    def _erase(
        self,
        customer_id: UUID,
        targets: Sequence[Target],
        *,
        reason: str,
        ids: IdSource,
        actor: str,
        outdial_id: UUID | None = None,
        also: Sequence[Aggregate] = (),
    ) -> Written[Erasure]:
        """One atomic write: the erasure, the Deleted event of each of its targets not
        deleted yet, and ``also``. The keys go when the read model applies the erasure
        (projections/erasures.py), so a crash after this write is finished on restart."""
        erasure_id = ids.erasure_id()
        at = self.clock()
        deleted = [target for target in targets if target.delete(at=at, actor=actor)]
        if outdial_id is None:
            erasure = Erasure.of_targets(
                erasure_id=erasure_id,
                customer_id=customer_id,
                target_ids=[target.id for target in targets],
                reason=reason,
                at=at,
                actor=actor,
            )
        else:
            erasure = Erasure.of_outdial(
                erasure_id=erasure_id,
                customer_id=customer_id,
                outdial_id=outdial_id,
                count=len(targets),
                reason=reason,
                at=at,
                actor=actor,
            )
        written = self._save(*deleted, erasure, *also, answer=erasure)
        for target in targets:  # this process's copies hold what was just erased
            self._forget_cached(target.id)
        return written

    def _erased_before(self, customer_id: UUID, ids: IdSource) -> Written[Erasure] | None:
        """The erasure a repeated request (its ids) made, if it made one."""
        if ids.repeatable and self._exists(ids.erasure_id()):
            return Written(self.get_erasure(customer_id, ids.erasure_id()), None)
        return None

    def _check_sealed(self, target_ids: Sequence[UUID]) -> None:
        """StoredInPlaintext for the first of these targets stored before sealing, told by
        the store from the stored Created events, without reading them here."""
        if self._sealing(target_ids) is None:
            return
        for start in range(0, len(target_ids), BATCH_MAX):
            plain = self._bulk.first_events_lacking(
                target_ids[start : start + BATCH_MAX], SEALED_MARK
            )
            if plain:
                raise _stored_before_sealing(plain[0])

    def _sealing(self, target_ids: Sequence[UUID]) -> SealingMapper | None:
        """The mapper that seals, or None when this store seals nothing: then
        StoredInPlaintext when there are targets to erase (none of them can be)."""
        if isinstance(self.mapper, SealingMapper):
            return self.mapper
        if target_ids:
            raise StoredInPlaintext(
                f"target {target_ids[0]} is stored in plaintext: this store seals nothing"
            )
        return None

    def _erasable_targets(
        self, customer_id: UUID, target_ids: Sequence[UUID], *, all_found: bool
    ) -> list[Target]:
        """The customer's targets among these, read without their keys (an erasure shows
        nothing of them); StoredInPlaintext for one stored before sealing, and with
        ``all_found`` TargetNotFound for one that is not the customer's."""
        sealing = self._sealing(target_ids)
        if sealing is None:
            return []
        blind = sealing.blind()
        found: dict[UUID, Target] = {}
        for start in range(0, len(target_ids), BATCH_MAX):
            stored = self._bulk.select_events_of(target_ids[start : start + BATCH_MAX])
            for _, group in itertools.groupby(stored, key=lambda event: event.originator_id):
                events: list[Any] = [blind.to_domain_event(event) for event in group]
                target: Any = None
                for event in events:  # as the repository would, without its protocol checks
                    target = event.mutate(target)
                if not isinstance(target, Target) or target.customer_id != customer_id:
                    continue
                if not was_sealed(events[0]):
                    raise _stored_before_sealing(target.id)
                found[target.id] = target
        if all_found:
            for target_id in target_ids:
                if target_id not in found:
                    raise TargetNotFound(f"target {target_id} not found")
        return [found[i] for i in target_ids if i in found]

    # -- internals --------------------------------------------------------------

    def reading_mapper(self) -> Mapper[UUID]:
        """The mapper of a read shown to someone (history, the feed): with the keys as
        their store has them now, where this process may remember one since destroyed."""
        return self.mapper.fresh() if isinstance(self.mapper, SealingMapper) else self.mapper

    def reading_events(self) -> EventStore[UUID]:
        """The event store as ``reading_mapper`` reads it."""
        return EventStore(self.reading_mapper(), self.recorder)

    def reading_target(self, target_id: UUID, version: int | None = None) -> Target:
        """The target at ``version`` (or its last), as ``reading_mapper`` reads it: from
        its latest snapshot at or before that version and the events after (an erased
        target has no snapshot: its keyless events are read). Past its last version, its
        last; unscoped (the caller checks whose it is)."""
        events = self.reading_events()
        snapshots = (
            None if self.snapshots is None else EventStore(events.mapper, self.snapshots.recorder)
        )
        repository = Repository(events, snapshot_store=snapshots)
        target: Aggregate | None = None
        with contextlib.suppress(AggregateNotFoundError):
            target = repository.get(target_id, version=version)
        if not isinstance(target, Target):
            raise TargetNotFound(f"target {target_id} not found")
        return target

    def _load(self, kind: type[A], aggregate_id: UUID, missing: type[Exception]) -> A:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing(f"{kind.__name__.lower()} {aggregate_id} not found") from None
        if isinstance(aggregate, Target) and aggregate.is_deleted and self._keys is not None:
            # Erased, maybe by another process since this one kept it: read it again
            # with its key as stored (a deleted target is rarely asked for).
            self._forget_cached(aggregate_id)
            again = project_aggregate(None, self.reading_events().get(aggregate_id))
            assert again is not None  # it was just found
            aggregate = again
        if not isinstance(aggregate, kind):
            raise missing(f"{kind.__name__.lower()} {aggregate_id} not found")
        return aggregate

    def _forget_cached(self, aggregate_id: UUID) -> None:
        """Drop this process's copy of an aggregate, if it keeps one."""
        with contextlib.suppress(KeyError):
            self.repository.cache.get(aggregate_id, evict=True)  # type: ignore[union-attr]

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _targets_of(
        self, customer_id: UUID, outdial_id: UUID, target_ids: Sequence[UUID]
    ) -> list[Target]:
        """Those of some targets that exist in this outdial, in the order asked, read in
        one query: a dispatch reads its whole claim at once rather than a query a target."""
        found = [
            target
            for target in self._aggregates_of(Target, target_ids)
            if target.customer_id == customer_id and target.outdial_id == outdial_id
        ]
        order = {target_id: n for n, target_id in enumerate(target_ids)}
        return sorted(found, key=lambda target: order[target.id])

    def _aggregates_of(self, kind: type[A], aggregate_ids: Sequence[UUID]) -> list[A]:
        """Those of some aggregates of ``kind`` that exist, read in one query."""
        stored = self._bulk.select_events_of(aggregate_ids)
        read_ahead(self.mapper, stored)
        to_domain_event = self.mapper.to_domain_event
        found: list[A] = []
        for _, group in itertools.groupby(stored, key=lambda event: event.originator_id):
            aggregate = project_aggregate(None, [to_domain_event(event) for event in group])
            if isinstance(aggregate, kind):
                found.append(aggregate)
        return found

    def _save(self, *aggregates: Aggregate, answer: T) -> Written[T]:
        """Record the aggregates' new events in one atomic write, answering ``answer``.

        What ``Application.save`` does, collecting the events straight from our own
        aggregates rather than through its runtime protocol checks, which cost a batch
        of targets a third of its time (benchmarks/findings.py); the write may share its
        transaction with other commands' (application/group_commit.py)."""
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        with translate_conflicts():
            recorded = self.commits.put(events)
        if recorded:  # first: a projection woken by the write takes them as they are
            for listener in self._listeners:
                listener(recorded)
        # Never a snapshot of a deleted target: one erased (its key gone) would be
        # snapshotted in plaintext from this process's copy.
        deleted = {a.id for a in aggregates if isinstance(a, Target) and a.is_deleted}
        if len(aggregates) == 1 and recorded and not deleted and self.repository.cache:
            # One command's aggregate, as written, is the next load's copy: that load then
            # finds no newer event to decode (a bulk write would only churn the cache).
            # A copy, since the caller still presents its own while the cache's may be
            # fast-forwarded; an older one put late is fast-forwarded like any other.
            self.repository.cache.put(aggregates[0].id, copy.deepcopy(aggregates[0]))
        for event in events:
            if (
                event.originator_version % TARGET_SNAPSHOT_INTERVAL == 0
                and isinstance(event, Target.Event)
                and event.originator_id not in deleted
            ):
                self.take_snapshot(event.originator_id, version=event.originator_version)
        return Written(answer, recorded[-1][0] if recorded else None)


def _check_batch_size(batch: Sequence[NewTarget]) -> None:
    if not 1 <= len(batch) <= BATCH_MAX:
        raise InvalidValue("targets", f"must hold between 1 and {BATCH_MAX} targets")


@contextmanager
def translate_conflicts() -> Iterator[None]:
    try:
        yield
    except IntegrityError as error:
        raise ConcurrentChange("another change to the same resource won; retry") from error


def _new_target(
    target_id: UUID,
    new: NewTarget,
    outdial_id: UUID,
    customer_id: UUID,
    at: datetime,
    field: str,
    actor: str,
) -> Target:
    try:
        return Target.create(
            target_id=target_id,
            outdial_id=outdial_id,
            customer_id=customer_id,
            destinations=new.destinations,
            name=new.name,
            detail=new.detail,
            data=new.data,
            at=at,
            actor=actor,
        )
    except InvalidValue as error:
        if not field:
            raise
        raise InvalidValue(f"{field}.{error.field}", error.problem) from None


def _stored_before_sealing(target_id: UUID) -> StoredInPlaintext:
    return StoredInPlaintext(
        f"target {target_id} is stored in plaintext (from before sealing): it cannot be erased"
    )
