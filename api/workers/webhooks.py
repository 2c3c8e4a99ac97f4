"""Webhook delivery: the active worker POSTs each webhook's next events, signed, a batch at
a time, and moves its position on when the receiver acknowledges; a few webhooks at once,
each in order."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import UUID, uuid4

import orjson

from adapters.webhooks import WebhookSender
from api import presenters
from api.workers.rounds import Rounds
from application.service import Clock
from application.webhooks import BATCH_MAX, DELIVERIES_KEPT_S, Webhook, Webhooks, sign

log = logging.getLogger(__name__)

# How often the worker checks whether webhooks may be due: it looks for them (a query)
# when the read model moved or a delivery ended since it last looked, and at least every
# LOOK_AGAIN_S (a retry's time come, a webhook changed by another process).
ROUND_S = 0.25
LOOK_AGAIN_S = 1.0
# Webhooks delivered at the same time (each one's batches stay in order).
AT_ONCE = 8
FORGET_EVERY_S = 3600.0
USER_AGENT = "outdial-webhooks/1.0"


class WebhookDelivery:
    """Delivers every due webhook while this worker is the active one."""

    def __init__(
        self,
        webhooks: Webhooks,
        sender: WebhookSender,
        clock: Clock,
        *,
        active: Callable[[], bool] = lambda: True,
        applied: Callable[[], int] = lambda: 0,
    ) -> None:
        """``applied``: the read model's position as this process knows it, which moves
        when there may be events to deliver."""
        self._webhooks = webhooks
        self._sender = sender
        self._clock = clock
        self._busy: set[UUID] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(AT_ONCE, thread_name_prefix="webhook")
        self._rounds = Rounds("webhooks", ROUND_S, self._round, active=active)
        self._forgot_at = 0.0
        self._applied = applied
        self._looked_at: int | None = None  # the position when it last looked
        self._look_again_at = 0.0
        self._delivery_ended = False

    def start(self) -> None:
        self._rounds.start()

    def stop(self) -> None:
        self._rounds.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._sender.close()

    def deliver_due(self) -> None:
        """Start delivering each due webhook that is not being delivered already."""
        for webhook in self._webhooks.table.due(self._clock().timestamp()):
            with self._lock:
                if webhook.customer_id in self._busy:
                    continue
                self._busy.add(webhook.customer_id)
            self._pool.submit(self._deliver, webhook)

    def deliver(self, webhook: Webhook) -> bool:
        """Deliver the webhook's next batch; True when a full batch was acknowledged (so
        more may wait)."""
        page = self._webhooks.next_batch(webhook)
        if not page.events:
            self._webhooks.passed_over(webhook, page)
            return False
        body = orjson.dumps({"events": [presenters.feed_event(e) for e in page.events]})
        delivery_id = str(uuid4())
        at = self._clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Outdial-Delivery": delivery_id,
            "X-Outdial-Signature": sign(webhook.secret, int(time.time()), body),
        }
        answer = self._sender.post(webhook.url, body, headers)
        self._webhooks.answered(webhook, page, delivery_id, at, answer)
        return answer.acknowledged and len(page.events) == BATCH_MAX

    def _deliver(self, webhook: Webhook) -> None:
        try:
            while self.deliver(webhook) and not self._rounds.stopped:
                found = self._webhooks.table.get(webhook.customer_id)
                if found is None or found.id != webhook.id:
                    return
                webhook = found
        except Exception:
            log.exception("delivering the webhook of customer %s failed", webhook.customer_id)
        finally:
            with self._lock:
                self._busy.discard(webhook.customer_id)
                self._delivery_ended = True  # its webhook may be due again, or later

    def _round(self) -> None:
        position, now = self._applied(), time.monotonic()
        with self._lock:
            unchanged = position == self._looked_at and not self._delivery_ended
            if unchanged and now < self._look_again_at:
                return
            self._looked_at, self._delivery_ended = position, False
        self._look_again_at = now + LOOK_AGAIN_S
        self.deliver_due()
        if time.monotonic() - self._forgot_at >= FORGET_EVERY_S:
            self._forgot_at = time.monotonic()
            oldest = self._clock() - timedelta(seconds=DELIVERIES_KEPT_S)
            self._webhooks.table.forget_deliveries_before(oldest)
