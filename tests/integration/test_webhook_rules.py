"""The webhook's delivery rules on the webhook tables of both stores: failures retried with
a growing pause and shown as failing after a day, acknowledged batches moving the position,
a delivery never moving a webhook made again, the deliveries log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest

from adapters.stores import Storage
from adapters.webhooks import open_webhook_table
from application.feed import FeedEvent, FeedFilter, FeedPage, Owner
from application.history import EventRecord
from application.webhooks import Answer, Delivery, Webhooks, WebhookTable, retry_pause

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REFUSED = Answer(503, "answered 503", 12)
ACKNOWLEDGED = Answer(200, "", 8)


class Batches:
    """Stands for the feed: the next batch is always the same two events."""

    def read(self, chosen: FeedFilter, after: int, *, limit: int) -> FeedPage:
        owner = Owner("target", chosen.customer_id, None)
        record = EventRecord(1, "Created", T0, {})
        events = [
            FeedEvent(p, uuid4(), "Target.Created", owner, record) for p in (after + 1, after + 3)
        ]
        return FeedPage(events, after + 3)


@pytest.fixture
def table(storage: Storage) -> Iterator[WebhookTable]:
    opened = open_webhook_table(storage)
    yield opened
    opened.close()


@pytest.fixture
def webhooks(table: WebhookTable) -> Webhooks:
    return Webhooks(
        table, cast(Any, None), cast(Any, Batches()), check_url=lambda url: None, head=lambda: 40
    )


def test_the_pause_after_a_failure_doubles_from_1_s_to_10_minutes() -> None:
    assert [retry_pause(n) for n in range(1, 12)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600,
    ]  # fmt: skip


def test_a_new_webhook_starts_at_the_end_of_the_log_and_a_change_keeps_its_secret(
    webhooks: Webhooks,
) -> None:
    customer = uuid4()
    made = webhooks.put(customer, "https://a.example/hook", None, None)
    assert (made.position, made.status(T0.timestamp())) == (40, "active")
    changed = webhooks.put(customer, "https://b.example/hook", frozenset({"Target.Created"}), None)
    assert (changed.secret, changed.position, changed.id) == (made.secret, 40, made.id)
    assert webhooks.get(customer).types == frozenset({"Target.Created"})
    webhooks.delete(customer)
    again = webhooks.put(customer, "https://b.example/hook", None, None)
    assert again.secret != made.secret
    assert again.id != made.id


def test_failures_are_retried_later_and_a_day_of_them_is_failing_until_one_is_acknowledged(
    webhooks: Webhooks, table: WebhookTable
) -> None:
    customer = uuid4()
    webhooks.put(customer, "https://a.example/hook", None, None)
    at = T0
    for n in range(1, 4):
        hook = webhooks.get(customer)
        webhooks.answered(hook, webhooks.next_batch(hook), f"d{n}", at, REFUSED)
        hook = webhooks.get(customer)
        assert hook.failures == n
        assert hook.next_attempt == at.timestamp() + retry_pause(n)
        assert hook.position == 40  # nothing acknowledged: the same batch again
        assert table.due(at.timestamp()) == []
        at += timedelta(seconds=retry_pause(n))
    assert webhooks.get(customer).status(T0.timestamp() + 24 * 3600 - 1) == "active"
    assert webhooks.get(customer).status(T0.timestamp() + 24 * 3600) == "failing"
    assert webhooks.counts(T0.timestamp() + 24 * 3600 - 1) == (1, 0)
    assert webhooks.counts(T0.timestamp() + 24 * 3600) == (1, 1)
    later = T0 + timedelta(days=1, minutes=10)
    hook = webhooks.get(customer)
    webhooks.answered(hook, webhooks.next_batch(hook), "d4", later, ACKNOWLEDGED)
    hook = webhooks.get(customer)
    assert (hook.position, hook.failures, hook.failing_since) == (43, 0, None)
    assert hook.status(later.timestamp()) == "active"
    assert table.due(later.timestamp()) == [hook]


def test_a_delivery_of_a_webhook_deleted_meanwhile_moves_nothing(
    webhooks: Webhooks, table: WebhookTable
) -> None:
    customer = uuid4()
    old = webhooks.put(customer, "https://a.example/hook", None, None)
    webhooks.delete(customer)
    new = webhooks.put(customer, "https://a.example/hook", None, None)
    assert not table.moved(old, 99)
    table.failed(old, 5, T0.timestamp(), T0.timestamp() + 600)
    assert webhooks.get(customer) == new


def test_deliveries_are_listed_newest_first_and_forgotten_after_their_time(
    table: WebhookTable,
) -> None:
    customer, other = uuid4(), uuid4()
    for n in range(3):
        table.record(Delivery(f"d{n}", customer, T0 + timedelta(days=n), n, n + 1, 200, "", 5))
    table.record(Delivery("theirs", other, T0, 1, 2, None, "ConnectError: refused", 3))
    listed = table.deliveries(customer, 10)
    assert [d.id for d in listed] == ["d2", "d1", "d0"]
    assert listed[0] == Delivery("d2", customer, T0 + timedelta(days=2), 2, 3, 200, "", 5)
    assert [d.id for d in table.deliveries(customer, 2)] == ["d2", "d1"]
    assert table.forget_deliveries_before(T0 + timedelta(days=1)) == 2
    assert [d.id for d in table.deliveries(customer, 10)] == ["d2", "d1"]
    assert table.deliveries(other, 10) == []
    assert table.deliveries(UUID(int=0), 10) == []
