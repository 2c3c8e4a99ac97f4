"""The do-not-call list: numbers and addresses a customer's outdials must not dial.

An entry is identified by its customer, target, match and scope (one outdial, or every
outdial: the nil UUID), so its id follows from them (``entry_id``): adding it again finds
it, and the entries that could block a destination are a handful of ids known in advance
(``candidate_entry_ids``) that a dial's decision reads from the event store by id.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.address import ADDRESS_FIELD_MAX, ADDRESS_TYPES, Address, is_e164, is_valid_target
from domain.errors import InvalidValue
from domain.text import check_plain_text, checked_name
from domain.timeline import event_time

Match = Literal["exact", "prefix"]
MATCHES: tuple[str, ...] = get_args(Match)
EVERY_OUTDIAL = UUID(int=0)
PREFIX_MIN = 4  # "+" and three digits
_PREFIX = re.compile(r"\+[0-9]{3,15}")
# Entry ids are uuid5 of this namespace and the entry's identity.
_ENTRY_NAMESPACE = UUID("6f1c2d0e-5d7a-4b8e-9a51-0d0c0a11d0c5")


def entry_id(customer_id: UUID, target: str, match: str, outdial_id: UUID) -> UUID:
    return uuid5(_ENTRY_NAMESPACE, f"{customer_id}\n{match}\n{outdial_id}\n{target}")


def candidate_entry_ids(customer_id: UUID, outdial_id: UUID, target: str) -> list[UUID]:
    """The ids of every entry that could block ``target`` in this outdial: exact, and for
    a number each of its prefixes, for this outdial and for every outdial."""
    keys: list[tuple[str, str]] = [(target, "exact")]
    if is_e164(target):
        keys += [(target[:n], "prefix") for n in range(PREFIX_MIN, len(target) + 1)]
    return [
        entry_id(customer_id, key, match, scope)
        for scope in (EVERY_OUTDIAL, outdial_id)
        for key, match in keys
    ]


def checked_entry_target(target: object, match: object, field: str = "target") -> str:
    """The target of an entry: an E.164 number or prefix, or another address's target."""
    if match not in MATCHES:
        raise InvalidValue(f"{field.rsplit('target', 1)[0]}match", "must be exact or prefix")
    if not isinstance(target, str) or not target:
        raise InvalidValue(field, "must be a non-empty string")
    if len(target) > ADDRESS_FIELD_MAX:
        raise InvalidValue(field, f"must be at most {ADDRESS_FIELD_MAX} characters")
    check_plain_text(field, target)
    if match == "prefix":
        if _PREFIX.fullmatch(target) is None:
            raise InvalidValue(
                field,
                "a prefix must be a + and 3 to 15 digits, such as +1212 (4 characters or more)",
            )
        return target
    if target.startswith("+"):
        if not is_e164(target):
            raise InvalidValue(field, "must be an E.164 number such as +821100000001")
        return target
    if not any(is_valid_target(kind, target) for kind in ADDRESS_TYPES):
        raise InvalidValue(
            field, "must be an E.164 number or the target of an address (a SIP address, an e-mail)"
        )
    return target


@dataclass(frozen=True)
class Rule:
    """What of an entry a dial's decision needs: whom it blocks, and until when."""

    id: UUID
    target: str
    match: str
    outdial_id: UUID
    expires_at: datetime | None
    removed: bool

    def blocks(self, target: str, outdial_id: UUID, at: datetime) -> bool:
        if self.removed or (self.expires_at is not None and self.expires_at <= at):
            return False
        if self.outdial_id not in (EVERY_OUTDIAL, outdial_id):
            return False
        if self.match == "prefix":
            return is_e164(target) and target.startswith(self.target)  # numbers only
        return target == self.target


@dataclass(frozen=True)
class DoNotCall:
    """The entries that may block some destinations: the list as a dial's decision sees it."""

    rules: tuple[Rule, ...] = ()

    def blocking(self, destination: Address, outdial_id: UUID, at: datetime) -> list[UUID]:
        """The ids of the entries that block ``destination`` at ``at``."""
        return [r.id for r in self.rules if r.blocks(destination.target, outdial_id, at)]


NO_ENTRIES = DoNotCall()


class DoNotCallEntry(Aggregate, created_event_name="Added"):
    """One entry of a customer's do-not-call list; removed softly, added again by id."""

    TOPIC = "outdial:DoNotCallEntry"

    if TYPE_CHECKING:  # see Target: annotations at run time would make a dataclass
        customer_id: UUID
        target: str
        match: str
        outdial_id: UUID
        reason: str
        expires_at: datetime | None
        actor: str
        removed_at: datetime | None

    class Created(Aggregate.Created):
        """The library's base of creation events, named for it; entries begin with Added."""

        TOPIC = "outdial:DoNotCallEntry.Created"

    class Added(Created):
        TOPIC = "outdial:DoNotCallEntry.Added"
        customer_id: UUID
        target: str
        match: str
        outdial_id: UUID
        reason: str
        expires_at: datetime | None
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            entry: DoNotCallEntry = aggregate
            entry.customer_id = self.customer_id
            entry.target = self.target
            entry.match = self.match
            entry.outdial_id = self.outdial_id
            entry.reason = self.reason
            entry.expires_at = self.expires_at
            entry.actor = self.actor
            entry.removed_at = None

    class Changed(Aggregate.Event):
        """A new reason or expiry; on a removed entry, it is added again."""

        TOPIC = "outdial:DoNotCallEntry.Changed"
        reason: str
        expires_at: datetime | None
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.reason = self.reason
            aggregate.expires_at = self.expires_at
            aggregate.actor = self.actor
            aggregate.removed_at = None

    class Removed(Aggregate.Event):
        TOPIC = "outdial:DoNotCallEntry.Removed"
        actor: str = ""

        def apply(self, aggregate: Any) -> None:
            aggregate.removed_at = self.timestamp
            aggregate.actor = self.actor

    def __deepcopy__(self, memo: dict[int, Any]) -> DoNotCallEntry:
        """Every value it holds is immutable but its pending events (see Outdial)."""
        copied = copy.copy(self)
        copied.__dict__["_pending_events"] = list(self._pending_events)
        return copied

    @classmethod
    def add(
        cls,
        *,
        customer_id: UUID,
        target: str,
        match: str,
        outdial_id: UUID,
        reason: str,
        expires_at: datetime | None,
        at: datetime,
        actor: str = "",
    ) -> DoNotCallEntry:
        target = checked_entry_target(target, match)
        return cls._create(
            cls.Added,
            id=entry_id(customer_id, target, match, outdial_id),
            timestamp=at,
            customer_id=customer_id,
            target=target,
            match=match,
            outdial_id=outdial_id,
            reason=checked_name(reason, "reason"),
            expires_at=_checked_expiry(expires_at, at),
            actor=actor,
        )

    @classmethod
    def for_dial(
        cls,
        existing: DoNotCallEntry | None,
        *,
        customer_id: UUID,
        target: str,
        dial_id: UUID,
        reason: str,
        at: datetime,
        actor: str = "",
    ) -> DoNotCallEntry:
        """The entry a ``do_not_call`` retry rule puts a dialed address on: exact, for
        every outdial of the customer, for good, its reason ``dial DIAL_ID: REASON``. One
        already there for good stays as it is; a removed or expiring one is added again,
        for good, with the rule's reason."""
        said = f"dial {dial_id}: {reason}"
        if existing is None:
            return cls.add(
                customer_id=customer_id,
                target=target,
                match="exact",
                outdial_id=EVERY_OUTDIAL,
                reason=said,
                expires_at=None,
                at=at,
                actor=actor,
            )
        if existing.is_removed or existing.expires_at is not None:
            existing.add_again(reason=said, expires_at=None, keep_expiry=False, at=at, actor=actor)
        return existing

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None

    def add_again(
        self,
        *,
        reason: str | None,
        expires_at: datetime | None,
        keep_expiry: bool,
        at: datetime,
        actor: str = "",
    ) -> bool:
        """An add of an entry that exists: its reason and expiry change to what was sent
        (``None``/``keep_expiry`` keep them); a removed entry is added again. False when
        nothing changed (nothing is recorded)."""
        reason = self.reason if reason is None else checked_name(reason, "reason")
        expiry = self.expires_at if keep_expiry else _checked_expiry(expires_at, at)
        if not self.is_removed and reason == self.reason and expiry == self.expires_at:
            return False
        self.trigger_event(
            self.Changed,
            timestamp=event_time(self.modified_on, at),
            reason=reason,
            expires_at=expiry,
            actor=actor,
        )
        return True

    def remove(self, *, at: datetime, actor: str = "") -> bool:
        """Remove once; False when already removed (nothing new is recorded)."""
        if self.is_removed:
            return False
        self.trigger_event(self.Removed, timestamp=event_time(self.modified_on, at), actor=actor)
        return True

    def rule(self) -> Rule:
        return Rule(
            self.id, self.target, self.match, self.outdial_id, self.expires_at, self.is_removed
        )


def _checked_expiry(expires_at: datetime | None, at: datetime) -> datetime | None:
    if expires_at is not None and expires_at <= at:
        raise InvalidValue("expires_at", "must lie in the future")
    return expires_at


def rules_of(entries: Iterable[DoNotCallEntry]) -> DoNotCall:
    return DoNotCall(tuple(entry.rule() for entry in entries))


def blocked_destinations(
    destinations: Sequence[Address | None], outdial_id: UUID, rules: DoNotCall, at: datetime
) -> dict[int, list[UUID]]:
    """{destination index: ids of the entries blocking it} for the blocked ones."""
    blocked: dict[int, list[UUID]] = {}
    for index, destination in enumerate(destinations):
        if destination is not None:
            ids = rules.blocking(destination, outdial_id, at)
            if ids:
                blocked[index] = ids
    return blocked
