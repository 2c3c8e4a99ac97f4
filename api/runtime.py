"""What the routes work with: the application, the read model and the keys of one store."""

from __future__ import annotations

import logging
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from api.metrics import Metrics
from api.settings import Settings
from api.sweeper import DialTimeoutSweeper
from application.access import ApiKeys
from application.service import OutdialService
from projections.queries import ReadModelQueries
from projections.runner import ReadModel

log = logging.getLogger(__name__)

T = TypeVar("T")


class Runtime:
    """Opened by create_app; the lifespan starts and stops its threads."""

    def __init__(self, settings: Settings) -> None:
        storage = settings.storage()
        self.settings = settings
        self.service = OutdialService(storage=storage)
        self.read_model = ReadModel(storage)
        self.keys = ApiKeys.open(storage)
        self.sweeper = DialTimeoutSweeper(
            self.service, self.read_model.queries, settings.sweep_interval_seconds
        )
        self.metrics = Metrics()
        self.metrics.watch_store(
            self.service.recorder.max_notification_id,
            self.read_model.position,
            self.read_model.lag,
        )

    @property
    def queries(self) -> ReadModelQueries:
        return self.read_model.queries

    def start(self) -> None:
        self.read_model.start()
        self.sweeper.start()

    def stop(self) -> None:
        self.sweeper.stop()
        self.read_model.close()
        self.service.close()
        self.keys.close()

    def written(self, answer: T) -> T:
        """``answer``, once the read model holds this thread's latest write (read-your-writes)."""
        position = self.service.last_position
        if not self.read_model.wait(position, timeout=self.settings.read_wait_seconds):
            log.warning("read model has not reached position %s; a read may lag", position)
        return answer


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


Rt = Annotated[Runtime, Depends(runtime)]
