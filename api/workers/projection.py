"""The projection worker: the live projection, the dial-timeout sweeper and webhook
delivery.

``serve`` runs one in its own process; ``outdial project`` runs one on its own, for API
processes started with ``OUTDIAL_RUN_PROJECTIONS=false``. The sweeper and the webhooks
belong with the projection because they read what it keeps, and only its active process
does either.
"""

from __future__ import annotations

from adapters.webhooks import WebhookSender
from api.bootstrap import Services
from api.workers.sweeper import DialTimeoutSweeper
from api.workers.webhooks import WebhookDelivery
from projections.runner import LiveProjection


class ProjectionWorker:
    """Active while it holds the store's projection lease, a hot standby otherwise; the
    sweeper times out dials only in the active one, so only one process does it."""

    def __init__(self, services: Services) -> None:
        self.projection = LiveProjection(services.read_model, lease=services.projection_lease())
        services.service.on_recorded(self.projection.hand_over)
        if services.storage.database_url:  # the read model is in the events' database
            services.service.commits.applying_within = self.projection.apply_within
        self.sweeper = DialTimeoutSweeper(
            services.service,
            services.read_model.queries,
            services.settings.sweep_interval_seconds,
            active=lambda: self.projection.active,
            forget_old_answers=services.idempotency.forget_older_than,
        )
        self.webhooks = WebhookDelivery(
            services.webhooks,
            WebhookSender(services.webhook_addresses),
            services.service.clock,
            active=lambda: self.projection.active,
            applied=lambda: services.read_model.applied_here,
        )

    def start(self) -> None:
        self.projection.start()
        self.sweeper.start()
        self.webhooks.start()

    def stop(self) -> None:
        self.webhooks.stop()
        self.sweeper.stop()
        self.projection.stop()
