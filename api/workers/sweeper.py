"""The service's own finish of dials nobody finished, so no target stays stuck; and,
once an hour, forgetting idempotency answers older than a day."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from application.errors import REFUSALS
from application.service import OutdialService
from projections.queries import ReadModelQueries

log = logging.getLogger(__name__)

SWEEP_BATCH = 100
# How often the active worker drops idempotency answers past their 24 h.
FORGET_EVERY_S = 3600.0


class DialTimeoutSweeper:
    """Every interval, times out the dials still progressing past their plan's dial_timeout."""

    def __init__(
        self,
        service: OutdialService,
        queries: ReadModelQueries,
        interval_seconds: float,
        *,
        active: Callable[[], bool] = lambda: True,
        forget_old_answers: Callable[[], int] = lambda: 0,
    ) -> None:
        self._active = active
        self._forget_old_answers = forget_old_answers
        self._forgot_at = 0.0
        self._service = service
        self._queries = queries
        self._interval = interval_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dial-timeout-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def sweep(self) -> int:
        """Time out what is overdue now; the number of dials it finished."""
        finished = 0
        for target_id, dial_id in self._queries.overdue_dials(self._service.clock(), SWEEP_BATCH):
            try:
                self._service.time_out_dial(target_id, dial_id)
            except REFUSALS:
                # Finished meanwhile by its caller, or another process won the race: fine.
                continue
            finished += 1
        return finished

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            if not self._active():
                continue
            try:
                self.sweep()
                if time.monotonic() - self._forgot_at >= FORGET_EVERY_S:
                    self._forgot_at = time.monotonic()
                    self._forget_old_answers()
            except Exception:
                # A store hiccup must not end the sweeping; the next round tries again.
                log.exception("dial timeout sweep failed")
