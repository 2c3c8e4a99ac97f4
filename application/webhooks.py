"""Webhooks: one per customer, told each matching event of the feed in order, at least
once, in batches, signed with the webhook's own secret.

The webhook's ``position`` is the last event its receiver acknowledged (a 2xx): delivery
resumes from there after any restart, so an event is delivered again when the answer was
lost, never skipped. A failure is retried with a growing pause; a webhook failing for a
day shows as ``failing`` and is still tried every ten minutes until it answers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol
from uuid import UUID, uuid4

from application.errors import NotFound
from application.feed import Feed, FeedFilter, FeedPage
from application.service import OutdialService

BATCH_MAX = 100
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 600.0
FAILING_AFTER_S = 24 * 3600.0
ANSWER_WAIT_S = 10.0
# Deliveries are listed for this long.
DELIVERIES_KEPT_S = 7 * 24 * 3600.0


class WebhookNotFound(NotFound):
    reason = "WEBHOOK_NOT_FOUND"


@dataclass(frozen=True)
class Webhook:
    id: str  # a new one for each webhook made: a delivery never moves a successor on
    customer_id: UUID
    url: str
    types: frozenset[str] | None
    outdial_id: UUID | None
    secret: str
    position: int  # the last event the receiver acknowledged (or examined past)
    failures: int = 0  # attempts failed in a row
    failing_since: float | None = None  # when the first of them failed
    next_attempt: float = 0.0  # not before this time (seconds since the epoch)

    def status(self, now: float) -> str:
        failing = self.failing_since is not None and now - self.failing_since >= FAILING_AFTER_S
        return "failing" if failing else "active"

    @property
    def chosen(self) -> FeedFilter:
        return FeedFilter(self.customer_id, outdial_id=self.outdial_id, types=self.types)


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver a batch, as the deliveries log shows it."""

    id: str
    customer_id: UUID
    tm_attempt: datetime
    from_position: int  # the batch's first event
    to_position: int  # and its last
    status_code: int | None  # None when nothing answered
    error: str  # "" on success
    duration_ms: int


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def acknowledged(self) -> bool:
        """A 2xx within 10 s (``error`` says why anything else is not)."""
        return not self.error


class WebhookTable(Protocol):
    """Where webhooks and their deliveries are kept (adapters/webhooks.py)."""

    def get(self, customer_id: UUID) -> Webhook | None: ...

    def insert(self, webhook: Webhook) -> bool:
        """False when the customer has a webhook already."""
        ...

    def change(self, webhook: Webhook) -> bool:
        """The webhook's url, types and outdial, when its id is still the customer's."""
        ...

    def delete(self, customer_id: UUID) -> bool: ...

    def due(self, now: float) -> list[Webhook]:
        """Every webhook whose next attempt is due."""
        ...

    def moved(self, webhook: Webhook, position: int) -> bool:
        """Position moved on from ``webhook.position`` and failures forgotten, when
        nobody moved it meanwhile (a stale worker, a new webhook)."""
        ...

    def failed(
        self, webhook: Webhook, failures: int, since: float, next_attempt: float
    ) -> None: ...

    def record(self, delivery: Delivery) -> None: ...

    def deliveries(self, customer_id: UUID, limit: int) -> list[Delivery]:
        """The customer's latest deliveries, newest first."""
        ...

    def forget_deliveries_before(self, when: datetime) -> int: ...

    def counts(self, failing_since: float) -> tuple[int, int]:
        """Every webhook, and those failing since before ``failing_since``."""
        ...

    def close(self) -> None: ...


# Checks a webhook's URL before it is kept: raises InvalidValue naming ``url``.
UrlCheck = Callable[[str], None]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Outdial-Signature`` of a body sent at ``timestamp`` (seconds since the
    epoch): HMAC-SHA256 with the secret of ``"TIMESTAMP.BODY"``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_pause(failures: int) -> float:
    """1 s after the first failure, doubling to at most 10 minutes."""
    return min(RETRY_FIRST_S * 2.0 ** (failures - 1), RETRY_MAX_S)


class Webhooks:
    """The webhook use cases (make, change, read, delete) and the delivery rules the
    worker follows (api/workers/webhooks.py)."""

    def __init__(
        self,
        table: WebhookTable,
        service: OutdialService,
        feed: Feed,
        check_url: UrlCheck,
        head: Callable[[], int],
    ) -> None:
        self.table = table
        self._service = service
        self._feed = feed
        self._check_url = check_url
        self._head = head

    def put(
        self,
        customer_id: UUID,
        url: str,
        types: frozenset[str] | None,
        outdial_id: UUID | None,
    ) -> Webhook:
        """Make the customer's webhook (a new secret, starting at the end of the log) or
        change where it goes and what it is told (keeping its secret and position)."""
        self._check_url(url)
        if outdial_id is not None:
            self._service.get_outdial(customer_id, outdial_id)  # the customer's, or 404
        while True:
            current = self.table.get(customer_id)
            if current is not None:
                changed = replace(current, url=url, types=types, outdial_id=outdial_id)
                if self.table.change(changed):
                    return changed
                continue  # deleted meanwhile: make a new one
            made = Webhook(
                id=str(uuid4()),
                customer_id=customer_id,
                url=url,
                types=types,
                outdial_id=outdial_id,
                secret="whsec_" + secrets.token_urlsafe(32),
                position=self._head(),
            )
            if self.table.insert(made):
                return made

    def get(self, customer_id: UUID) -> Webhook:
        webhook = self.table.get(customer_id)
        if webhook is None:
            raise WebhookNotFound("this customer has no webhook")
        return webhook

    def delete(self, customer_id: UUID) -> Webhook:
        webhook = self.get(customer_id)
        if not self.table.delete(customer_id):
            raise WebhookNotFound("this customer has no webhook")
        return webhook

    def deliveries(self, customer_id: UUID, limit: int) -> list[Delivery]:
        self.get(customer_id)
        return self.table.deliveries(customer_id, limit)

    def counts(self, now: float) -> tuple[int, int]:
        """How many webhooks there are, and how many are failing."""
        return self.table.counts(now - FAILING_AFTER_S)

    # -- delivery ----------------------------------------------------------------------

    def next_batch(self, webhook: Webhook) -> FeedPage:
        """The next events to deliver, oldest first, at most BATCH_MAX."""
        return self._feed.read(webhook.chosen, webhook.position, limit=BATCH_MAX)

    def passed_over(self, webhook: Webhook, page: FeedPage) -> None:
        """Nothing to deliver, but the feed examined further: start from there next."""
        if page.next_after > webhook.position:
            self.table.moved(webhook, page.next_after)

    def answered(
        self, webhook: Webhook, page: FeedPage, delivery_id: str, at: datetime, answer: Answer
    ) -> None:
        """Log the attempt; on a 2xx move the position past the batch, else retry later."""
        first, last = page.events[0].position, page.events[-1].position
        self.table.record(
            Delivery(
                delivery_id,
                webhook.customer_id,
                at,
                first,
                last,
                answer.status_code,
                answer.error,
                answer.duration_ms,
            )
        )
        now = at.timestamp()
        if answer.acknowledged:
            self.table.moved(webhook, last)
            return
        failures = webhook.failures + 1
        since = now if webhook.failing_since is None else webhook.failing_since
        self.table.failed(webhook, failures, since, now + retry_pause(failures))
