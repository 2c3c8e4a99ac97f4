"""Safe retries: a creating request with an ``Idempotency-Key`` runs once per customer and
key within 24 h; a repeat answers what the first answered and records nothing new.

Each key is claimed in a table beside the events before its command runs, with a random
seed from which the command derives its new ids (an outdial's, the targets', the dials').
The answer is kept once the command is done. Should the process die between the command's
commit and keeping its answer, the claim stays unanswered; a repeat after a while takes it
over and runs the command again with the same seed, so the ids it would create already
exist and the command answers what is there instead of creating it twice.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import orjson

from application.errors import ApplicationError, ConcurrentChange
from application.ids import SeededIds
from domain.address import Address
from domain.plan import DESTINATION_SLOTS

KEPT_S = 24 * 3600.0
# A claim unanswered this long lost its process: a repeat may run the command again.
TAKE_OVER_AFTER_S = 30.0


@dataclass(frozen=True)
class Claimed:
    """This request runs the command, with the ids its seed gives (application/ids.py)."""

    seed: UUID

    @property
    def ids(self) -> SeededIds:
        return SeededIds(self.seed)


@dataclass(frozen=True)
class Answered:
    """The first request's answer, to give again."""

    status: int
    body: bytes


class KeyReused(ApplicationError):
    """The key was used by this customer for a different request."""

    reason = "IDEMPOTENCY_KEY_REUSED"


class InProgress(ConcurrentChange):
    """A request with this key is running right now (safe to retry)."""

    reason = "IDEMPOTENCY_KEY_IN_PROGRESS"


@dataclass(frozen=True)
class StoredClaim:
    """A key's row: which request claimed it, its seed, and its answer once kept."""

    fingerprint: str
    seed: str
    status: int | None
    body: bytes | None
    claimed_at: float


class IdempotencyKeys:
    """Claims and answers of idempotency keys, in one kind of database."""

    def __init__(self, table: IdempotencyTable, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    def claim(self, customer_id: UUID, key: str, fingerprint: str) -> Claimed | Answered:
        """Claim ``key`` for a request (``fingerprint`` says which), or the answer of the
        request that claimed it; KeyReused or InProgress otherwise."""
        customer = str(customer_id)
        for _ in range(5):  # another request may change the row between our statements
            now = self._clock()
            seed = str(uuid4())
            if self._table.insert(customer, key, fingerprint, seed, now):
                return Claimed(UUID(seed))
            row = self._table.get(customer, key)
            if row is None:
                continue  # removed meanwhile (a released claim): try again
            if row.claimed_at <= now - KEPT_S:  # forgotten: a new request
                if self._table.replace(customer, key, row.claimed_at, fingerprint, seed, now):
                    return Claimed(UUID(seed))
                continue
            if row.fingerprint != fingerprint:
                msg = "this Idempotency-Key was used for a different request"
                raise KeyReused(msg)
            if row.status is not None and row.body is not None:
                return Answered(row.status, row.body)
            if row.claimed_at <= now - TAKE_OVER_AFTER_S:
                if self._table.take_over(customer, key, row.claimed_at, now):
                    return Claimed(UUID(row.seed))
                continue
            msg = "a request with this Idempotency-Key is in progress; retry shortly"
            raise InProgress(msg)
        msg = "a request with this Idempotency-Key is in progress; retry shortly"
        raise InProgress(msg)

    def answer(self, customer_id: UUID, key: str, status: int, body: bytes) -> None:
        """Keep the answer of a claimed key, for its repeats."""
        self._table.answer(str(customer_id), key, status, body)

    def release(self, customer_id: UUID, key: str) -> None:
        """The command did not complete: a repeat runs it again (with a new seed: the
        command created nothing)."""
        self._table.delete(str(customer_id), key)

    def blank_erased(self, customer_id: UUID, target_ids: Collection[str]) -> int:
        """Blank, in the answers kept for the customer's repeats, the personal fields of
        these erased targets and of their dials (as their events now read); returns how
        many answers changed."""
        erased = set(target_ids)
        changed = 0
        for key, body in self._table.answers(str(customer_id)):
            try:
                answer = orjson.loads(body)
            except orjson.JSONDecodeError:
                continue
            if _blanked(answer, erased):
                self._table.rewrite(str(customer_id), key, orjson.dumps(answer))
                changed += 1
        if changed:
            self._table.scrub()
        return changed

    def forget_older_than(self, seconds: float = KEPT_S) -> int:
        """Drop answers past keeping; returns how many."""
        return self._table.delete_before(self._clock() - seconds)

    def close(self) -> None:
        self._table.close()


class IdempotencyTable(ABC):
    """The ``outdial_idempotency`` table; every method is one atomic statement."""

    @abstractmethod
    def insert(self, customer: str, key: str, fingerprint: str, seed: str, now: float) -> bool: ...

    @abstractmethod
    def get(self, customer: str, key: str) -> StoredClaim | None: ...

    @abstractmethod
    def replace(
        self, customer: str, key: str, was: float, fingerprint: str, seed: str, now: float
    ) -> bool: ...

    @abstractmethod
    def take_over(self, customer: str, key: str, was: float, now: float) -> bool: ...

    @abstractmethod
    def answer(self, customer: str, key: str, status: int, body: bytes) -> None: ...

    @abstractmethod
    def delete(self, customer: str, key: str) -> None: ...

    @abstractmethod
    def delete_before(self, when: float) -> int: ...

    @abstractmethod
    def answers(self, customer: str) -> list[tuple[str, bytes]]:
        """(key, body) of every answer kept for the customer."""

    @abstractmethod
    def rewrite(self, customer: str, key: str, body: bytes) -> None: ...

    @abstractmethod
    def scrub(self) -> None:
        """Leave no older copy of rewritten answers in the store's files."""

    @abstractmethod
    def close(self) -> None: ...


_TARGET_FIELDS = ("name", "detail", "data")
_DESTINATIONS = tuple(f"destination_{n}" for n in range(DESTINATION_SLOTS))


def _blank_address(value: Any) -> Any:
    """An address on the wire as erased: its type alone (the domain's wire form)."""
    if isinstance(value, dict) and "type" in value:
        return Address(value["type"], "").as_dict()
    return value


def _blanked(value: Any, erased: set[str]) -> bool:
    """Blank in place what a wire answer shows of erased targets: a target's name,
    detail, data and destinations, a dial's destination. True when anything changed."""
    changed = False
    if isinstance(value, dict):
        if value.get("id") in erased and "destination_0" in value:
            for field in _TARGET_FIELDS:
                if value.get(field):
                    value[field] = ""
                    changed = True
            for field in _DESTINATIONS:
                blank = _blank_address(value.get(field))
                if blank != value.get(field):
                    value[field] = blank
                    changed = True
        if value.get("outdial_target_id") in erased and "destination" in value:
            blank = _blank_address(value["destination"])
            if blank != value["destination"]:
                value["destination"] = blank
                changed = True
        for inner in value.values():
            changed = _blanked(inner, erased) or changed
    elif isinstance(value, list):
        for inner in value:
            changed = _blanked(inner, erased) or changed
    return changed
