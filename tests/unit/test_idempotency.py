"""The rules of idempotency keys, on a clock of the test's own."""

from __future__ import annotations

from uuid import uuid4

import pytest

from adapters.idempotency_table import SQLiteIdempotencyTable
from application.idempotency import (
    KEPT_S,
    TAKE_OVER_AFTER_S,
    Answered,
    Claimed,
    IdempotencyKeys,
    InProgress,
    KeyReused,
)


def test_a_key_runs_once_then_answers_and_is_forgotten_after_a_day() -> None:
    now = [1_000_000.0]
    keys = IdempotencyKeys(SQLiteIdempotencyTable.in_memory(), clock=lambda: now[0])
    customer, other = uuid4(), uuid4()
    first = keys.claim(customer, "k", "request-a")
    assert isinstance(first, Claimed)
    with pytest.raises(InProgress):  # running: a repeat is told to retry
        keys.claim(customer, "k", "request-a")
    now[0] += TAKE_OVER_AFTER_S  # its process died: a repeat takes over, with the same seed
    taken = keys.claim(customer, "k", "request-a")
    assert taken == first
    keys.answer(customer, "k", 200, b'{"id": 1}')
    assert keys.claim(customer, "k", "request-a") == Answered(200, b'{"id": 1}')
    with pytest.raises(KeyReused):
        keys.claim(customer, "k", "request-b")
    assert isinstance(keys.claim(other, "k", "request-b"), Claimed)  # another customer's
    now[0] += KEPT_S
    again = keys.claim(customer, "k", "request-b")  # a day on, the key is new again
    assert isinstance(again, Claimed)
    assert again.seed != first.seed
    now[0] += KEPT_S + 1
    assert keys.forget_older_than() == 2


def test_a_released_claim_runs_again_from_scratch() -> None:
    keys = IdempotencyKeys(SQLiteIdempotencyTable.in_memory())
    customer = uuid4()
    first = keys.claim(customer, "k", "a")
    keys.release(customer, "k")
    second = keys.claim(customer, "k", "b")  # not "reused": the first created nothing
    assert isinstance(first, Claimed)
    assert isinstance(second, Claimed)
    assert second.seed != first.seed
    assert first.ids.outdial_id() != first.ids.target_id(0)
    assert first.ids.outdial_id() == Claimed(first.seed).ids.outdial_id()
