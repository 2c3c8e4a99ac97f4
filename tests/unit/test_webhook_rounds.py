"""When the webhook worker looks for due webhooks: only when there may be something to
deliver (the read model moved, a delivery ended) or a while has passed, so an idle
server does not query its webhooks four times a second."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from api.workers import webhooks as worker
from api.workers.webhooks import WebhookDelivery


class _Table:
    def __init__(self) -> None:
        self.looked = 0

    def due(self, now: float) -> list[Any]:
        self.looked += 1
        return []

    def forget_deliveries_before(self, oldest: Any) -> None:
        pass


class _Webhooks:
    def __init__(self) -> None:
        self.table = _Table()


class _Sender:
    def close(self) -> None:
        pass


@pytest.fixture
def position() -> list[int]:
    return [0]


@pytest.fixture
def delivery(position: list[int]) -> WebhookDelivery:
    return WebhookDelivery(
        _Webhooks(),  # type: ignore[arg-type]
        _Sender(),  # type: ignore[arg-type]
        lambda: datetime.now(UTC),
        applied=lambda: position[0],
    )


def _looked(delivery: WebhookDelivery) -> int:
    return delivery._webhooks.table.looked  # type: ignore[attr-defined,no-any-return]


def test_it_looks_when_the_read_model_moved_and_not_otherwise(
    delivery: WebhookDelivery, position: list[int]
) -> None:
    delivery._round()
    delivery._round()
    delivery._round()
    assert _looked(delivery) == 1
    position[0] = 7
    delivery._round()
    delivery._round()
    assert _looked(delivery) == 2


def test_it_looks_after_a_delivery_ended(delivery: WebhookDelivery) -> None:
    delivery._round()
    delivery._deliver(_ended())
    delivery._round()
    assert _looked(delivery) == 2


def test_it_looks_again_after_a_while_even_when_nothing_moved(
    delivery: WebhookDelivery, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "LOOK_AGAIN_S", 0.05)
    delivery._round()
    delivery._round()
    assert _looked(delivery) == 1
    time.sleep(0.06)
    delivery._round()
    assert _looked(delivery) == 2


def _ended() -> Any:
    """A webhook whose delivery ends at once (its batch cannot be read)."""

    class _Webhook:
        customer_id = "c"

    return _Webhook()
