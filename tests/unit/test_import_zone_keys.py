"""An import's zone keys reach its projection process: the importer sends each recorded
batch's down the pipe, and the projection process's receiver gives them to ``zones_of``."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest

from api.workers import import_projection
from domain.address import Address
from domain.target import Target
from projections import targets
from tests.conftest import tel

SEOUL = "+821100000001"


def _created(*destinations: Address | None) -> Sequence[Any]:
    return Target.create(
        target_id=uuid4(),
        outdial_id=uuid4(),
        customer_id=uuid4(),
        destinations=[*destinations, *[None] * (5 - len(destinations))],
        at=datetime(2026, 1, 1, tzinfo=UTC),
    ).collect_events()


def test_a_recorded_batch_s_zone_keys_go_down_the_pipe_and_are_taken_by_zones_of(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(targets, "_GIVEN_ZONE_KEYS", {})
    services = SimpleNamespace(service=SimpleNamespace(on_recorded=lambda listener: None))
    along = import_projection.ImportProjection(services)  # type: ignore[arg-type]
    received, along._zone_keys = multiprocessing.Pipe(duplex=False)
    receiver = threading.Thread(target=import_projection._receive_zone_keys, args=(received,))
    receiver.start()

    along._hand_over(list(enumerate(_created(tel(SEOUL), Address("sip", "a@example.com")), 1)))
    along.close()  # closes the import's end: the receiver ends
    receiver.join(timeout=10)

    assert not receiver.is_alive()
    assert targets._GIVEN_ZONE_KEYS == {SEOUL: "Asia/Seoul"}
    assert targets.zones_of(tel(SEOUL)) == "Asia/Seoul"
    assert targets._GIVEN_ZONE_KEYS == {}  # taken once


def test_a_projection_process_gone_stops_the_sending_and_not_the_import() -> None:
    services = SimpleNamespace(service=SimpleNamespace(on_recorded=lambda listener: None))
    along = import_projection.ImportProjection(services)  # type: ignore[arg-type]
    received, along._zone_keys = multiprocessing.Pipe(duplex=False)
    received.close()

    along._hand_over([(1, _created(tel(SEOUL))[0])])

    assert along._zone_keys is None
