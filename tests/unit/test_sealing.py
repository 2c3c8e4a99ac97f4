"""The sealing of a target's personal fields, in memory: the stored form holds none of
them, reads give them back, and a sealed state opens only with its own target's key and
untouched."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from adapters.target_keys import KEYS_AHEAD, TargetKeys
from application.ids import NEW_IDS, IdSource, SeededIds
from application.sealing import KEY_BYTES, SEALED, KeyedStoredEvent, SealingMapper
from application.service import NewTarget, OutdialService
from domain.address import Address
from domain.outdial import Outdial
from domain.target import Target
from tests.conftest import FakeClock

NUMBER = "+821099887766"


@pytest.fixture
def service() -> OutdialService:
    return OutdialService(clock=FakeClock(), keys=TargetKeys(None))


def _target(service: OutdialService, *, ids: IdSource = NEW_IDS) -> Target:
    customer = uuid4()
    outdial = service.create_outdial(customer).value
    destinations = [
        Address("tel", NUMBER, target_name="Mum", detail="evenings"),
        None,
        None,
        None,
        None,
    ]
    new = NewTarget(destinations, name="Zelda", detail="vip", data="crm:7")
    return service.create_targets(customer, outdial.id, [new], ids=ids).value[0]


def _stored(service: OutdialService, target: Target) -> list[StoredEvent]:
    return list(service.recorder.select_events(target.id))


def test_a_new_target_is_stored_sealed_and_read_whole(service: OutdialService) -> None:
    target = _target(service)
    (created,) = _stored(service, target)
    for personal in (NUMBER, "Zelda", "Mum", "evenings", "vip", "crm:7"):
        assert personal.encode() not in created.state
    assert f'"{SEALED}":"v1:'.encode() in created.state
    read = service.mapper.to_domain_event(created)
    assert isinstance(read, Target.Created)
    assert (read.name, read.detail, read.data) == ("Zelda", "vip", "crm:7")
    assert read.destinations[0] == Address("tel", NUMBER, target_name="Mum", detail="evenings")


def test_a_target_the_service_names_takes_a_key_stored_ahead(service: OutdialService) -> None:
    """Its Created carries no key for the recorder to write; a target whose id the caller
    names (here an ``Idempotency-Key``'s) has its key written with its Created."""
    named_by_service = _target(service)
    (created,) = _stored(service, named_by_service)
    assert not isinstance(created, KeyedStoredEvent)
    assert service.mapper.to_domain_event(created).name == "Zelda"  # type: ignore[attr-defined]
    named_by_caller = _target(service, ids=SeededIds(uuid4()))
    (keyed,) = _stored(service, named_by_caller)
    assert isinstance(keyed, KeyedStoredEvent)
    assert len(keyed.new_key) == KEY_BYTES
    assert service.mapper.to_domain_event(keyed).name == "Zelda"  # type: ignore[attr-defined]


def test_keys_stored_ahead_go_to_one_target_each() -> None:
    keys = TargetKeys(None)
    ids = keys.new_target_ids(3) + keys.new_target_ids(KEYS_AHEAD * 2) + keys.new_target_ids(1)
    assert len(set(ids)) == len(ids)
    held = [keys.known_key(i) for i in ids]
    assert all(key is not None and len(key) == KEY_BYTES for key in held)
    assert len(set(held)) == len(held)
    assert keys.known_key(uuid4()) is None  # a target it never named


def test_what_holds_nothing_personal_is_stored_as_it_was(service: OutdialService) -> None:
    outdial = service.create_outdial(uuid4(), name="spring").value
    (stored,) = service.recorder.select_events(outdial.id)
    assert SEALED.encode() not in stored.state
    assert isinstance(service.mapper.to_domain_event(stored), Outdial.Created)


def test_sealed_fields_open_only_for_their_own_target(service: OutdialService) -> None:
    first, second = _target(service), _target(service)
    (stored,) = _stored(service, first)
    moved = StoredEvent(second.id, 1, stored.topic, stored.state)  # under another's key and id
    with pytest.raises(MapperDeserialisationError):
        service.mapper.to_domain_event(moved)


def test_a_changed_ciphertext_does_not_open(service: OutdialService) -> None:
    (stored,) = _stored(service, _target(service))
    start = stored.state.index(b'"v1:') + 4
    raw = bytearray(base64.b64decode(stored.state[start : stored.state.index(b'"', start)]))
    raw[-1] ^= 1
    token = base64.b64encode(bytes(raw))
    changed = stored.state[:start] + token + stored.state[stored.state.index(b'"', start) :]
    with pytest.raises(MapperDeserialisationError):
        service.mapper.to_domain_event(replace(stored, state=changed))


def test_without_a_key_store_events_are_stored_plain() -> None:
    plain = OutdialService(clock=FakeClock())
    assert not isinstance(plain.mapper, SealingMapper)
    (stored,) = _stored(plain, _target(plain))
    assert NUMBER.encode() in stored.state


def test_events_of_one_state_encode_alike_and_each_reads_as_it_was(
    service: OutdialService,
) -> None:
    """A run of events whose states are the same takes the first one's encoding; any
    difference, a time's zone or a value's type included, is encoded on its own."""
    utc = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    same_instant = utc.astimezone(timezone(timedelta(hours=1)))
    deletions = [
        (utc, "alice"),
        (utc, "alice"),
        (utc, "bob"),
        (same_instant, "bob"),  # equal to the one before, written otherwise
        (utc, "bob"),
    ]
    mapper = service.mapper
    stored = []
    for at, actor in deletions:
        event = Target.Deleted(originator_id=uuid4(), originator_version=2, timestamp=at)
        event.__dict__["actor"] = actor
        stored.append(mapper.to_stored_event(event))
    assert stored[0].state == stored[1].state
    assert len({s.state for s in stored[1:]}) == 3
    assert stored[2].state == stored[4].state
    for (at, actor), one in zip(deletions, stored, strict=True):
        read = mapper.to_domain_event(one)
        assert isinstance(read, Target.Deleted)
        assert (read.timestamp, read.timestamp.utcoffset(), read.actor) == (
            at,
            at.utcoffset(),
            actor,
        )
        assert read.originator_id == one.originator_id
