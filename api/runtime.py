"""What the routes work with: the application, the read model and the keys of one store."""

from __future__ import annotations

import logging
import threading
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
    """The stores are opened by create_app; the lifespan runs the threads.

    One app's lifespan may be entered more than once, and again after it ended (test
    clients, a fuzzer): the threads start with the first entry and everything closes
    with the last exit, to be opened anew by the next entry.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.metrics.watch_store(
            lambda: self.service.recorder.max_notification_id(),
            lambda: self.read_model.position(),
            lambda: self.read_model.lag(),
        )
        self._lifespans = 0
        self._lock = threading.Lock()
        self._open()

    def _open(self) -> None:
        storage = self.settings.storage()
        self.service = OutdialService(storage=storage)
        self.read_model = ReadModel(storage)
        self.keys = ApiKeys.open(storage)
        self.sweeper = DialTimeoutSweeper(
            self.service, self.read_model.queries, self.settings.sweep_interval_seconds
        )
        self._closed = False

    @property
    def queries(self) -> ReadModelQueries:
        return self.read_model.queries

    def start(self) -> None:
        with self._lock:
            self._lifespans += 1
            if self._lifespans > 1:
                return
            if self._closed:
                self._open()
            if self.settings.run_projections:
                self.read_model.start()
                self.sweeper.start()

    def stop(self) -> None:
        with self._lock:
            self._lifespans -= 1
            if self._lifespans > 0:
                return
            self.sweeper.stop()
            self.read_model.close()
            self.service.close()
            self.keys.close()
            self._closed = True

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
