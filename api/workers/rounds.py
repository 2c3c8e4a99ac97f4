"""A worker's rounds: a thread of its own that does one round of work every interval while
its process is the store's active one. A round that fails is logged and the next one tries
again, so a store's hiccup never ends the work."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Rounds:
    def __init__(
        self,
        name: str,
        interval_seconds: float,
        work: Callable[[], object],
        *,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self._name = name
        self._interval = interval_seconds
        self._work = work
        self._active = active
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            if not self._active():
                continue
            try:
                self._work()
            except Exception:
                log.exception("a round of %s failed", self._name)
