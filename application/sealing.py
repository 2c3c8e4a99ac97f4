"""A target's personal data sealed in the event store: how its events are stored.

A target is a person: its name, detail, data and its destinations' target, target_name,
name and detail are personal, and so is the destination a dial records. They are stored
only as AES-GCM ciphertext under a random 256-bit key of that one target, the target's id
bound as associated data; the key lives outside the log (adapters/target_keys.py), so
destroying it erases the person while the events stay whole.

The domain never sees this: the mapper seals an event as it is stored and opens it as it
is read, so every reader (the repository, the projection, history, the feed) gets the
plaintext. An event of a target whose key is gone reads with those fields blank and
``erased`` set. Events stored before sealing have no ``sealed`` field and read as before.

The stored form of a sealed event is the event's own state with its personal fields blank
(an address keeps its type) and ``sealed``: ``"v1:" + base64(nonce + ciphertext)`` of the
JSON of the fields as they were. A Target's snapshot is sealed whole. The names here are
part of the stored format: never rename one.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol, Snapshot
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic

from domain.address import Address
from domain.target import Target

SEALED = "sealed"  # the stored field that holds the ciphertext
ERASED = "erased"  # set on an event read without its key
_VERSION = "v1:"
_NONCE_BYTES = 12
KEY_BYTES = 32
# An address's fields that say who and where (its type does not): target, target_name,
# name and detail, sealed as a list in this order.


class TargetKeyStore(Protocol):
    """Where each target's key is kept, outside the event store's tables."""

    def key_of(self, target_id: UUID) -> bytes | None:
        """The target's key, or None when it has none (destroyed: erased)."""
        ...

    def stored(self, target_id: UUID, key: bytes) -> None:
        """A new target's key, just committed with its Created event (the event store's
        recorder writes it in that transaction; memory keeps it here)."""
        ...

    def new_target_ids(self, count: int) -> list[UUID]:
        """Fresh ids for ``count`` new targets, each with its key stored already, ahead
        of it: their Created events then carry no key to write."""
        ...

    def known_key(self, target_id: UUID) -> bytes | None:
        """The target's key if this process holds it, without asking the store: for a new
        target, the key stored ahead with its id (``new_target_ids``)."""
        ...

    def read_ahead(self, target_ids: Collection[UUID]) -> None:
        """Fetch these targets' keys at once, before their events are read one by one."""
        ...

    def fresh(self) -> TargetKeyStore:
        """The keys as their store has them now, for one read shown to someone: a key this
        process remembers may have been destroyed by another (an erasure)."""
        ...

    def destroy(self, target_ids: Collection[UUID]) -> None:
        """Destroy these targets' keys (an erasure): their sealed fields are unreadable."""
        ...


class NoKeys:
    """No key at all: events read with their personal fields blank, which is all an
    erasure needs of the targets it erases (it never shows them)."""

    def key_of(self, target_id: UUID) -> bytes | None:
        return None

    def stored(self, target_id: UUID, key: bytes) -> None:
        msg = "a store without keys records nothing"
        raise TypeError(msg)

    def new_target_ids(self, count: int) -> list[UUID]:
        msg = "a store without keys records nothing"
        raise TypeError(msg)

    def known_key(self, target_id: UUID) -> bytes | None:
        return None

    def read_ahead(self, target_ids: Collection[UUID]) -> None:
        pass

    def fresh(self) -> TargetKeyStore:
        return self

    def destroy(self, target_ids: Collection[UUID]) -> None:
        pass


@dataclass(frozen=True)
class KeyedStoredEvent(StoredEvent):
    """A stored Created event with the new key its target's fields are sealed under: the
    recorder stores the key in the same transaction as the event."""

    new_key: bytes = b""


class KeyMissing(MapperDeserialisationError):
    """A target's key is gone (erased) where a whole state was sealed with it."""


def _seal(key: bytes, target_id: UUID, fields: dict[str, Any]) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, orjson.dumps(fields), target_id.bytes)
    return _VERSION + base64.b64encode(nonce + sealed).decode()


def _open(key: bytes, target_id: UUID, token: str) -> dict[str, Any]:
    if not token.startswith(_VERSION):
        msg = f"a sealed field of target {target_id} has an unknown form"
        raise MapperDeserialisationError(msg)
    raw = base64.b64decode(token[len(_VERSION) :])
    try:
        opened = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], target_id.bytes)
    except InvalidTag:
        msg = f"the sealed fields of target {target_id} do not open with its key"
        raise MapperDeserialisationError(msg) from None
    fields: dict[str, Any] = orjson.loads(opened)
    return fields


def _address_fields(address: Address | None) -> list[str] | None:
    if address is None:
        return None
    return [address.target, address.target_name, address.name, address.detail]


# One blank address per type: addresses are immutable, so every blank one is shared.
_BLANKS: dict[str, Address] = {}


def _blank(address: Address | None) -> Address | None:
    if address is None:
        return None
    blank = _BLANKS.get(address.type)
    if blank is None:
        blank = _BLANKS[address.type] = Address(address.type, "")
    return blank


def _filled(address: Address | None, fields: list[str] | None) -> Address | None:
    if address is None or fields is None:
        return address
    target, target_name, name, detail = fields
    # As Address(...) makes it, without a frozen dataclass's setattr per field (its
    # values were valid when sealed): every event read costs it.
    filled = object.__new__(Address)
    filled.__dict__.update(
        type=address.type, target=target, target_name=target_name, name=name, detail=detail
    )
    return filled


# What each sealed event class keeps personal: its fields as sealed, and the event's
# state with them blank; then the reverse. Only Target events hold personal data.
Personal = tuple[
    Callable[[dict[str, Any]], dict[str, Any]],  # the personal fields of a state
    Callable[[dict[str, Any]], None],  # blank them in a state (in place)
    Callable[[dict[str, Any], dict[str, Any]], None],  # fill them in again (in place)
]


def _created_fields(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": state["name"],
        "detail": state["detail"],
        "data": state["data"],
        "destinations": [_address_fields(a) for a in state["destinations"]],
    }


def _created_blank(state: dict[str, Any]) -> None:
    state.update(
        name="", detail="", data="", destinations=[_blank(a) for a in state["destinations"]]
    )


def _created_fill(state: dict[str, Any], fields: dict[str, Any]) -> None:
    state.update(
        name=fields["name"],
        detail=fields["detail"],
        data=fields["data"],
        destinations=[
            _filled(a, f)
            for a, f in zip(state["destinations"], fields["destinations"], strict=True)
        ],
    )


def _started_fields(state: dict[str, Any]) -> dict[str, Any]:
    return {"destination": _address_fields(state["destination"])}


def _started_blank(state: dict[str, Any]) -> None:
    state["destination"] = _blank(state["destination"])


def _started_fill(state: dict[str, Any], fields: dict[str, Any]) -> None:
    state["destination"] = _filled(state["destination"], fields["destination"])


PERSONAL: dict[type, Personal] = {
    Target.Created: (_created_fields, _created_blank, _created_fill),
    Target.DialStarted: (_started_fields, _started_blank, _started_fill),
}
_TOPICS = {kind: get_topic(kind) for kind in PERSONAL}
_SEALED_TOPICS = frozenset(_TOPICS.values())
_TARGET_TOPIC = Target.TOPIC
# Values that encode alike whenever they are equal and of one type (not float: 0.0 and
# -0.0 are equal; a time's zone is compared too).
_PLAIN_SCALARS = frozenset({str, int, bool, type(None), UUID, datetime})


class SealingMapper(Mapper[UUID]):
    """The library's mapper, sealing a target's personal fields as events are stored and
    opening them as they are read."""

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Any = None,
        cipher: Any = None,
        *,
        keys: TargetKeyStore,
    ) -> None:
        super().__init__(transcoder, compressor=compressor, cipher=cipher)
        self.keys = keys
        self._last_plain: tuple[tuple[Any, ...], bytes] | None = None

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        kind = type(domain_event)
        personal = PERSONAL.get(kind)
        if personal is not None:
            return self._sealed_event(domain_event, personal)
        if isinstance(domain_event, Snapshot) and domain_event.topic == _TARGET_TOPIC:
            return self._sealed_snapshot(domain_event)
        return self._plain_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        domain_event = super().to_domain_event(stored_event)
        state = vars(domain_event)
        token = state.pop(SEALED, None)
        if token is None:
            return domain_event  # stored before sealing, or nothing personal
        target_id = domain_event.originator_id
        key = self.keys.key_of(target_id)
        if isinstance(domain_event, Snapshot):
            if key is None:
                msg = f"target {target_id}'s key is gone: its snapshot cannot be read"
                raise KeyMissing(msg)
            state["state"] = self.transcoder.decode(
                base64.b64decode(_open(key, target_id, token)["state"])
            )
            return domain_event
        if key is None:
            state[ERASED] = True
            return domain_event
        PERSONAL[type(domain_event)][2](state, _open(key, target_id, token))
        return domain_event

    def fresh(self) -> SealingMapper:
        """This mapper with the keys as their store has them now (``TargetKeyStore.fresh``)."""
        return SealingMapper(self.transcoder, self.compressor, self.cipher, keys=self.keys.fresh())

    def blind(self) -> SealingMapper:
        """This mapper without any key: personal fields read blank."""
        return SealingMapper(self.transcoder, self.compressor, self.cipher, keys=NoKeys())

    def read_ahead(self, stored_events: Iterable[StoredEvent]) -> None:
        """Before these are decoded one by one: their targets' keys, fetched at once."""
        target_ids = {_as_uuid(s.originator_id) for s in stored_events if s.topic in _SEALED_TOPICS}
        if target_ids:
            self.keys.read_ahead(target_ids)

    def committed(self, stored_events: Sequence[StoredEvent]) -> None:
        """Events just committed: the new keys among them are the key store's now."""
        for stored in stored_events:
            if isinstance(stored, KeyedStoredEvent):
                self.keys.stored(_as_uuid(stored.originator_id), stored.new_key)

    def _sealed_event(self, domain_event: Any, personal: Personal) -> StoredEvent:
        target_id: UUID = domain_event.originator_id
        new = isinstance(domain_event, Target.Created)
        key = self.keys.known_key(target_id) if new else self.keys.key_of(target_id)
        # A new target's key is stored ahead of it (``new_target_ids``), or else with its
        # Created event, in that transaction.
        new_key = new and key is None
        if new_key:
            key = os.urandom(KEY_BYTES)
        if key is None:
            # A target stored before sealing has no key: its events stay as its first
            # were (an erased target has none either, and takes no more events).
            return super().to_stored_event(domain_event)
        state = _state_of(domain_event)
        fields, blank, _ = personal
        state[SEALED] = _seal(key, target_id, fields(state))
        blank(state)
        encoded = self._finished(self.transcoder.encode(state))
        topic = _TOPICS[type(domain_event)]
        version = domain_event.originator_version
        if new_key:
            return KeyedStoredEvent(target_id, version, topic, encoded, key)
        return StoredEvent(target_id, version, topic, encoded)

    def _plain_event(self, domain_event: Any) -> StoredEvent:
        """The library's to_stored_event, but an event whose state is the last one's (a
        bulk deletion's events: one time, one actor) takes that one's encoding rather
        than being encoded again."""
        state = _state_of(domain_event)
        kind = type(domain_event)
        same = _encodes_alike(kind, state)
        last = self._last_plain  # one read: another thread may replace it meanwhile
        if same is not None and last is not None and last[0] == same:
            encoded = last[1]
        else:
            encoded = self.transcoder.encode(state)
            if same is not None:
                self._last_plain = (same, encoded)
        return StoredEvent(
            domain_event.originator_id,
            domain_event.originator_version,
            get_topic(kind),
            self._finished(encoded),
        )

    def _finished(self, encoded: bytes) -> bytes:
        """An encoded state compressed and enciphered, as the library's mapper would."""
        if self.compressor:
            encoded = self.compressor.compress(encoded)
        if self.cipher:
            encoded = self.cipher.encrypt(encoded)
        return encoded

    def _sealed_snapshot(self, snapshot: Any) -> StoredEvent:
        target_id: UUID = snapshot.originator_id
        key = self.keys.key_of(target_id)
        if key is None:  # a target stored before sealing: its snapshot as its events
            return super().to_stored_event(snapshot)
        whole = base64.b64encode(self.transcoder.encode(snapshot.state)).decode()
        state = {**vars(snapshot), "state": {}, SEALED: _seal(key, target_id, {"state": whole})}
        return super().to_stored_event(_with_state(snapshot, state))


def read_ahead(mapper: Mapper[Any], stored_events: Sequence[StoredEvent]) -> None:
    """Before many stored events are decoded one by one, their targets' keys in one query
    rather than one each (a mapper that does not seal has none to fetch)."""
    if isinstance(mapper, SealingMapper):
        mapper.read_ahead(stored_events)


# How the sealed field begins in a stored state (the library's JSON: no spaces): a stored
# event holds sealed fields exactly when its state holds this.
SEALED_MARK = f'"{SEALED}":"{_VERSION}'.encode()


def was_sealed(event: Any) -> bool:
    """Whether an event read by a ``blind`` mapper was stored sealed (else plain)."""
    return bool(vars(event).get(ERASED, False))


def _state_of(domain_event: Any) -> dict[str, Any]:
    """What the library's mapper encodes of an event: its state without its aggregate's
    id and version, with its class version past the first."""
    state = dict(vars(domain_event))
    del state["originator_id"], state["originator_version"]
    class_version = getattr(type(domain_event), "class_version", 1)
    if class_version > 1:
        state["class_version"] = class_version
    return state


def _encodes_alike(kind: type, state: dict[str, Any]) -> tuple[Any, ...] | None:
    """What two events' states must share to encode alike, when every value is a plain
    scalar; None otherwise (a list, a float, a value of a type with a transcoding)."""
    same: list[Any] = [kind]
    for name, value in state.items():
        value_type = type(value)
        if value_type not in _PLAIN_SCALARS:
            return None
        zone = value.tzinfo if value_type is datetime else None
        same.append((name, value_type, value, zone))
    return tuple(same)


def _with_state(event: Any, state: dict[str, Any]) -> Any:
    """A copy of the event holding ``state`` (the library's mapper reads ``vars``)."""
    copy = object.__new__(type(event))
    object.__setattr__(copy, "__dict__", state)
    return copy


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)
