"""The domain's value objects are stored inside events and snapshots by transcodings of
their own (application/transcoding.py) and read back equal."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from application.service import OutdialService
from domain.address import Address
from domain.plan import DIAL_TIMEOUT_MAX_MS, DIAL_TIMEOUT_MIN_MS, TRY_INTERVAL_MAX_MS, Plan
from domain.target import Dial

TRANSCODER = OutdialService().mapper.transcoder

texts = st.text(st.characters(codec="utf-8"))
addresses = st.builds(Address, texts, texts, texts, texts, texts)
plans = st.builds(
    Plan,
    *(st.integers(0, 100) for _ in range(5)),
    st.integers(0, TRY_INTERVAL_MAX_MS),
    st.integers(DIAL_TIMEOUT_MIN_MS, DIAL_TIMEOUT_MAX_MS),
)
times = st.datetimes(timezones=st.just(UTC))
dials = st.builds(
    Dial,
    id=st.uuids(),
    destination_index=st.integers(0, 4),
    destination=addresses,
    try_count=st.integers(1, 100),
    plan=plans,
    reference_id=texts,
    started_at=times,
    ended_at=st.none() | times,
    result=st.sampled_from(["", "success", "fail"]),
    reason=texts,
    timed_out=st.booleans(),
    late=st.booleans(),
    actor=texts,
    manual=st.booleans(),
)


def _round_trip(value: Any) -> Any:
    return TRANSCODER.decode(TRANSCODER.encode({"value": value}))["value"]


@given(addresses)
def test_an_address_reads_back_equal(address: Address) -> None:
    assert _round_trip(address) == address


@given(plans)
def test_a_plan_reads_back_equal(plan: Plan) -> None:
    assert _round_trip(plan) == plan


@given(dials)
def test_a_dial_a_snapshot_remembers_reads_back_equal(dial: Dial) -> None:
    assert _round_trip(dial) == dial


def test_the_stored_names_are_pinned() -> None:
    """The names are part of the stored format: a rename would orphan every event."""
    encoded = TRANSCODER.encode([Address("tel", "+821100000001"), Plan(), UUID(int=1)])
    assert b'"_type_":"address"' in encoded
    assert b'"_type_":"plan"' in encoded
