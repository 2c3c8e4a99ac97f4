"""The projection worker: the live projection plus the dial-timeout sweeper.

``serve`` runs one in its own process; ``outdial project`` runs one on its own, for API
processes started with ``OUTDIAL_RUN_PROJECTIONS=false``. The sweeper belongs with the
projection because it reads the read model the projection keeps.
"""

from __future__ import annotations

from api.bootstrap import Services
from api.workers.sweeper import DialTimeoutSweeper
from projections.runner import LiveProjection


class ProjectionWorker:
    """Active while it holds the store's projection lease, a hot standby otherwise; the
    sweeper times out dials only in the active one, so only one process does it."""

    def __init__(self, services: Services) -> None:
        self.projection = LiveProjection(services.read_model, lease=services.projection_lease())
        services.service.on_recorded(self.projection.hand_over)
        self.sweeper = DialTimeoutSweeper(
            services.service,
            services.read_model.queries,
            services.settings.sweep_interval_seconds,
            active=lambda: self.projection.active,
            forget_old_answers=services.idempotency.forget_older_than,
        )

    def start(self) -> None:
        self.projection.start()
        self.sweeper.start()

    def stop(self) -> None:
        self.sweeper.stop()
        self.projection.stop()
