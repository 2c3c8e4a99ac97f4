"""The service's own finish of dials nobody finished, so no target stays stuck; and,
once an hour, forgetting idempotency answers older than a day."""

from __future__ import annotations

import time
from collections.abc import Callable

from api.workers.rounds import Rounds
from application.errors import REFUSALS
from application.service import OutdialService
from projections.queries import ReadModelQueries

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
        self._forget_old_answers = forget_old_answers
        self._forgot_at = 0.0
        self._service = service
        self._queries = queries
        self._rounds = Rounds("dial-timeout-sweeper", interval_seconds, self._round, active=active)

    def start(self) -> None:
        self._rounds.start()

    def stop(self) -> None:
        self._rounds.stop()

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

    def _round(self) -> None:
        self.sweep()
        if time.monotonic() - self._forgot_at >= FORGET_EVERY_S:
            self._forgot_at = time.monotonic()
            self._forget_old_answers()
