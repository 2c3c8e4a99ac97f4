"""The erasure's rules that need no store: its record, the blanking of answers kept for
repeats, and the keyless reads an erasure loads its targets with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from adapters.target_keys import TargetKeys
from application.idempotency import _blanked
from application.sealing import SealingMapper, was_sealed
from application.service import NewTarget, OutdialService
from domain.address import ADDRESS_TYPES, Address
from domain.erasure import NO_OUTDIAL, Erasure
from domain.errors import InvalidValue
from domain.timeline import NOT_DELETED
from projections.erasures import _deleted_as_listed
from projections.targets import address_of, zones_of

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BLANK = {"type": "tel", "target": "", "target_name": "", "name": "", "detail": ""}


def test_an_erasure_records_whom_it_erased_and_why_and_nothing_else() -> None:
    target_ids = [uuid4(), uuid4()]
    erasure = Erasure.of_targets(
        erasure_id=uuid4(), customer_id=uuid4(), target_ids=target_ids, reason="asked", at=AT
    )
    assert (erasure.target_ids, erasure.outdial_id, erasure.count) == (target_ids, NO_OUTDIAL, 2)
    (recorded,) = erasure.collect_events()
    assert set(vars(recorded)) - {"originator_id", "originator_version", "timestamp"} == {
        "originator_topic",
        "customer_id",
        "target_ids",
        "outdial_id",
        "count",
        "reason",
        "actor",
    }


@pytest.mark.parametrize("reason", ["x" * 256, "a\x00b", "\ud800"])
def test_an_erasures_reason_follows_the_text_rule(reason: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Erasure.of_outdial(
            erasure_id=uuid4(),
            customer_id=uuid4(),
            outdial_id=uuid4(),
            count=0,
            reason=reason,
            at=AT,
        )
    assert refused.value.field == "reason"


def _target_wire(target_id: str) -> dict[str, Any]:
    return {
        "id": target_id,
        "name": "Ann",
        "detail": "notes",
        "data": "{}",
        "destination_0": {
            "type": "tel",
            "target": "+821100000001",
            "target_name": "home",
            "name": "",
            "detail": "",
        },
        "destination_1": None,
    }


def test_an_answer_kept_for_repeats_is_blanked_for_the_erased_targets_alone() -> None:
    erased, kept = str(uuid4()), str(uuid4())
    answer: dict[str, Any] = {
        "result": [
            _target_wire(erased),
            _target_wire(kept),
            {
                "outdial_target_id": erased,
                "destination": {"type": "tel", "target": "+821100000001"},
            },
        ]
    }
    assert _blanked(answer, {erased})
    first, second, dial = answer["result"]
    assert (first["name"], first["detail"], first["data"]) == ("", "", "")
    assert first["destination_0"] == BLANK
    assert first["destination_1"] is None
    assert second == _target_wire(kept)
    assert dial["destination"] == BLANK
    assert not _blanked(answer, {erased})  # nothing left to change


def test_a_blind_mapper_reads_a_sealed_target_blank_and_knows_it_was_sealed() -> None:
    keys = TargetKeys(None)
    service = OutdialService(keys=keys)
    customer = uuid4()
    outdial = service.create_outdial(customer).value
    target = service.create_target(
        customer,
        outdial.id,
        NewTarget([Address("tel", "+821100000001"), None, None, None, None], name="Ann"),
    ).value
    assert isinstance(service.mapper, SealingMapper)
    blind = service.mapper.blind()
    (stored,) = service.recorder.select_events(target.id)
    created = blind.to_domain_event(stored)
    assert was_sealed(created)
    assert vars(created)["name"] == ""
    assert service.mapper.to_domain_event(stored).name == "Ann"  # type: ignore[attr-defined]
    keys.destroy([target.id])
    assert service.reading_mapper().to_domain_event(stored).name == ""  # type: ignore[attr-defined]
    service.close()


@pytest.mark.parametrize("kind", ADDRESS_TYPES)
def test_an_erased_destination_of_every_kind_has_no_address_and_no_zones(kind: str) -> None:
    """What the read model's erasure writes in one statement for every row
    (projections/erasures.py) is what its projection makes of a blank address."""
    blank = Address(kind, "")
    assert (address_of(blank), zones_of(blank)) == ("", "")


LIVE = NOT_DELETED
DELETED_AT = "2026-12-06 22:00:00.000000"


def _deletion(version: int, **more: object) -> dict[str, object]:
    return {"tm_delete": DELETED_AT, "tm_update": DELETED_AT, "version": version, **more}


@pytest.mark.parametrize(
    ("deleted", "decided"),
    [
        ({"a": {"tm_delete": DELETED_AT, "tm_update": DELETED_AT, "version": 4}}, DELETED_AT),
        ({}, None),  # a live row left undeleted
        (
            {"a": {"tm_delete": DELETED_AT, "tm_update": DELETED_AT, "version": 5}},
            None,
        ),  # not the next version
        (
            {
                "a": {
                    "tm_delete": DELETED_AT,
                    "tm_update": DELETED_AT,
                    "version": 4,
                    "status": "idle",
                }
            },
            None,
        ),
    ],
)
def test_an_outdials_deletions_go_by_the_index_only_when_they_are_the_list_as_read(
    deleted: dict[str, dict[str, Any]], decided: str | None
) -> None:
    found = [
        {"id": "a", "version": 3, "tm_delete": LIVE},
        {"id": "b", "version": 2, "tm_delete": "2026-12-01 00:00:00.000000"},  # deleted before
    ]
    assert _deleted_as_listed(found, deleted) == decided


def test_deletions_at_two_times_go_row_by_row() -> None:
    found = [{"id": i, "version": 1, "tm_delete": LIVE} for i in "ab"]
    deleted = {
        "a": _deletion(2),
        "b": {"tm_delete": LIVE[:-1] + "1", "tm_update": LIVE[:-1] + "1", "version": 2},
    }
    assert _deleted_as_listed(found, deleted) is None
