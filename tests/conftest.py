"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from application.service import NewTarget, OutdialService
from application.storage import Storage
from domain.address import Address

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def tel(number: str = "+821100000001") -> Address:
    return Address(type="tel", target=number)


def new_target(*numbers: str | None, name: str = "") -> NewTarget:
    """A target whose destinations are the given numbers, in order (None leaves a slot unset)."""
    slots: list[Address | None] = [tel(n) if n else None for n in numbers]
    slots += [None] * (5 - len(slots))
    return NewTarget(destinations=slots, name=name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> Iterator[OutdialService]:
    service = OutdialService(storage=Storage.in_memory(), clock=clock)
    yield service
    service.close()


@pytest.fixture
def customer() -> UUID:
    return uuid4()
