"""Who did it: every new event records its actor (the caller's key id, or system:...),
a dial says who started it and whether by hand, the audit search finds dials by actor,
and events stored before actors existed replay with actor ""."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import Mapper, StoredEvent
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.keys import key_hash, key_id
from adapters.stores import Storage
from application.history import stored_events
from domain.address import Address
from domain.plan import DEFAULT_PLAN
from domain.target import SWEEPER, Target
from tests.conftest import SQLITE_ONLY, FakeClock, eventually
from tests.e2e.conftest import (
    TEL_0,
    TEL_1,
    app_on,
    bearer,
    create_outdial,
    create_target,
    dispatch,
    new_key,
    ok,
    serving_of,
    targets_path,
)

pytestmark = pytest.mark.shared_app


def _actors_of(app: FastAPI, aggregate_id: str) -> list[str]:
    events = stored_events(serving_of(app).services.service, UUID(aggregate_id))
    return [getattr(event, "actor") for event in events]  # noqa: B009  # every event has one


def test_every_write_records_the_callers_key_id(app: FastAPI, client: TestClient, key: str) -> None:
    me = key_id(key_hash(key))
    outdial = create_outdial(client, name="o")["id"]
    ok(client.put(f"/v1.0/outdials/{outdial}", json={"name": "renamed"}))
    ok(client.put(f"/v1.0/outdials/{outdial}/campaign_id", json={"campaign_id": ""}))
    ok(client.put(f"/v1.0/outdials/{outdial}/data", json={"data": "x"}))
    ok(client.put(f"/v1.0/outdials/{outdial}/plan", json={"max_try_count_0": 3}))
    target = create_target(client, outdial, TEL_0, TEL_1)["id"]
    batch = ok(
        client.post(
            targets_path(outdial) + "/batch",
            json={"targets": [{"destination_0": {"target": TEL_0}}]},
        )
    )
    started = ok(client.post(targets_path(outdial, target) + "/dials"))
    ok(
        client.put(
            targets_path(outdial, target) + f"/dials/{started['id']}", json={"result": "fail"}
        )
    )
    dispatched = ok(dispatch(client, outdial, limit=5))["result"]
    ok(client.delete(targets_path(outdial, target)))
    ok(client.delete(f"/v1.0/outdials/{outdial}"))

    assert _actors_of(app, outdial) == [me] * 6
    assert _actors_of(app, target) == [me] * 5  # created, started, finished, started, deleted
    assert _actors_of(app, batch["result"][0]["id"]) == [me, me]
    events = ok(client.get(targets_path(outdial, target) + "/events"))["result"]
    assert [e["data"]["actor"] for e in events] == [me] * 5
    steps = ok(client.get(targets_path(outdial, target) + "/replay"))["result"]
    assert [s["event"]["data"]["actor"] for s in steps] == [me] * 5
    assert {d["actor"] for d in dispatched} == {me}


def test_a_dial_says_who_started_it_and_whether_by_hand(
    app: FastAPI, client: TestClient, key: str, other_key: str
) -> None:
    me = key_id(key_hash(key))
    outdial = create_outdial(client)["id"]
    by_hand_target, dispatched_target = (create_target(client, outdial, TEL_0)["id"] for _ in "ab")
    by_hand = ok(client.post(targets_path(outdial, by_hand_target) + "/dials"))
    assert (by_hand["actor"], by_hand["manual"]) == (me, True)
    [dispatched] = ok(dispatch(client, outdial, limit=1))["result"]
    assert dispatched["outdial_target_id"] == dispatched_target
    assert (dispatched["actor"], dispatched["manual"]) == (me, False)
    listed = ok(client.get(targets_path(outdial, by_hand_target) + "/dials"))["result"]
    assert listed == [by_hand]  # the read model says the same
    assert ok(client.get("/v1.0/dials", params={"actor": me}))["result"] == [dispatched, by_hand]
    assert ok(client.get("/v1.0/dials", params={"actor": "kid_000000000000"}))["result"] == []
    # Another key of another customer sees none of it, by actor or otherwise.
    with TestClient(app, headers=bearer(other_key)) as other:
        assert ok(other.get("/v1.0/dials", params={"actor": me}))["result"] == []


def test_the_sweeper_is_the_actor_of_a_timed_out_dial(storage: Storage, clock: FakeClock) -> None:
    app = app_on(storage, clock=clock)
    with TestClient(app, headers=bearer(new_key(app))) as client:
        outdial = create_outdial(client)["id"]
        target = create_target(client, outdial, TEL_0)["id"]
        path = targets_path(outdial, target)
        ok(client.post(path + "/dials", json={"plan": {"dial_timeout": 1000}}))
        clock.advance(seconds=2)  # past its dial_timeout
        eventually(lambda: ok(client.get(path))["status"] != "progressing", what="timed out")
        finished = ok(client.get(path + "/events"))["result"][-1]
    assert finished["type"] == "DialFinished"
    assert finished["data"]["actor"] == SWEEPER
    assert finished["data"]["timed_out"] is True


def _without_actor(stored: StoredEvent) -> StoredEvent:
    state: dict[str, Any] = orjson.loads(stored.state)
    state.pop("actor", None)
    state.pop("manual", None)
    return StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, orjson.dumps(state)
    )


@SQLITE_ONLY
def test_events_stored_before_actors_replay_with_an_empty_actor(
    app: FastAPI, client: TestClient
) -> None:
    """What an older version of the service left in the log: no actor, no manual."""
    service = serving_of(app).services.service
    outdial = create_outdial(client)["id"]
    old = Target.create(
        target_id=UUID(int=7),
        outdial_id=UUID(outdial),
        customer_id=UUID(ok(client.get(f"/v1.0/outdials/{outdial}"))["customer_id"]),
        destinations=[Address("tel", TEL_0), None, None, None, None],
        at=service.clock(),
    )
    dial = old.start_dial(dial_id=UUID(int=8), plan=DEFAULT_PLAN, at=service.clock())
    # An older release stored its events plain: no sealing, no actor.
    plain = Mapper[UUID](service.mapper.transcoder)
    stored = [_without_actor(plain.to_stored_event(e)) for e in old.collect_events()]
    service.recorder.insert_events(stored)
    path = targets_path(outdial, str(old.id))
    eventually(lambda: client.get(path).status_code == 200, what="projected")
    events = ok(client.get(path + "/events"))["result"]
    assert [e["data"]["actor"] for e in events] == ["", ""]
    assert events[1]["data"]["manual"] is False
    dials = ok(client.get(path + "/dials"))["result"]
    assert (dials[0]["id"], dials[0]["actor"], dials[0]["manual"]) == (str(dial.id), "", False)
    assert ok(client.get(path + "/replay"))["result"][-1]["state"]["status"] == "progressing"
