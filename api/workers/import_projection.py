"""Keeps the read model along with an import (application/importing.py ``ReadModelAlong``).

The import paces itself to the store's active projection: it runs at most LEAD batches
ahead, so a running `serve` sees the targets soon and stays ready. It also starts a
projection process of its own for its length, on the import's other core: the store's
projection under the store's lease, which stands by while a `serve`'s is active and takes
over when none is (a `serve` started meanwhile stands by, then takes over). Should that
process fail, the import applies its events itself. Either way every event goes through
the one applier (projections/applier.py).

The projection process is the busier of the two (its events read back and decoded, their
rows written), so the import works out its new numbers' time zones itself and hands them
over (``projections.targets.given_zone_keys``): the same function's answers, computed on
the other core.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from api.bootstrap import Services, bootstrap
from api.garbage_collection import seldom_collected
from api.settings import Settings
from projections.applier import Handover
from projections.events import Notified
from projections.rebuild import catch_up
from projections.runner import LiveProjection
from projections.targets import given_zone_keys, zone_keys_of

# Events applied in one transaction by the import's own projection: a bigger transaction
# writes each index page it dirties fewer times (benchmarks/findings.py).
APPLY_EVERY = 5_000
# Batches the import may write before the read model shows the first of them.
LEAD = 3
# How long the import waits for a projection to show a batch before applying it itself.
WAIT_S = 60.0
_SPAWN = multiprocessing.get_context("spawn")  # a fresh process: no inherited connections


class ImportProjection:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._ahead: deque[int] = deque()  # positions written, the read model may lack
        self._beside: BaseProcess | None = None
        self._zone_keys: Connection | None = None  # to the projection process
        self._finishing = _SPAWN.Event()
        self._applying_here = False
        self._handover = Handover()
        services.service.on_recorded(self._hand_over)

    def start(self) -> None:
        """Start the import's own projection process (while the rows are checked). It
        applies only while it holds the store's lease, standing by while another
        projection is active. Started whatever the status row says: a projection that
        died a moment ago still looks active there, and the import would wait for it."""
        received, self._zone_keys = _SPAWN.Pipe(duplex=False)
        self._beside = _SPAWN.Process(
            target=run_import_projection,
            args=(self._services.settings, self._finishing, received),
            name="outdial-import-projection",
            daemon=True,
        )
        self._beside.start()
        received.close()  # the child's end now

    def written(self, position: int) -> None:
        self._ahead.append(position)
        if len(self._ahead) > LEAD:
            self._wait_for(self._ahead.popleft())

    def finish(self) -> None:
        self._stop_beside()
        if self._ahead:
            self._wait_for(self._ahead[-1])
        self._ahead.clear()

    def close(self) -> None:
        self._stop_beside()

    def _wait_for(self, position: int) -> None:
        read_model = self._services.read_model
        deadline = time.monotonic() + WAIT_S
        while not read_model.wait_until_applied(position, timeout=0.5):
            if self._applying_here or not (self._projection_active() or self._beside_running()):
                self._apply_here()  # nobody applies it: apply it here
                return
            if time.monotonic() > deadline:
                return

    def _apply_here(self) -> None:
        self._applying_here = True
        catch_up(
            self._services.events,
            self._services.read_model.view,
            batch_size=APPLY_EVERY,
            handover=self._handover,
        )

    def _hand_over(self, recorded: Sequence[Notified]) -> None:
        if self._applying_here:  # only then are they applied here, and not read back
            self._handover.put(recorded)
        elif self._zone_keys is not None:
            keys = zone_keys_of([event for _, event in recorded])
            try:
                if keys:  # none in a do-not-call list's batches
                    self._zone_keys.send(keys)
            except OSError:  # the process is gone: it works them out itself, if anyone
                self._zone_keys = None

    def _projection_active(self) -> bool:
        status = self._services.read_model.status()
        return status is not None and status.active(time.time())

    def _beside_running(self) -> bool:
        return self._beside is not None and self._beside.is_alive()

    def _stop_beside(self) -> None:
        if self._zone_keys is not None:
            self._zone_keys.close()
            self._zone_keys = None
        if self._beside is None:
            return
        self._finishing.set()
        self._beside.join(timeout=120)
        if self._beside.is_alive():
            self._beside.terminate()
            self._beside.join()
        self._beside = None


def run_import_projection(settings: Settings, finishing: Any, zone_keys: Connection) -> None:
    """The import's own projection process: the store's projection, under its lease, until
    the import is finishing and the read model holds everything recorded."""
    threading.Thread(
        target=_receive_zone_keys, args=(zone_keys,), name="zone-keys", daemon=True
    ).start()
    with seldom_collected(), bootstrap(settings) as services:
        projection = LiveProjection(
            services.read_model, lease=services.projection_lease(), batch=APPLY_EVERY
        )
        projection.start()
        try:
            finishing.wait()
            events, read_model = services.events, services.read_model
            while projection.active and not projection.stuck:
                if (read_model.position() or 0) >= events.head():
                    return
                read_model.wait_until_applied(events.head(), timeout=0.5)
        finally:
            projection.stop()


def _receive_zone_keys(zone_keys: Connection) -> None:
    """Until the import closes its end."""
    try:
        while True:
            given_zone_keys(zone_keys.recv())
    except (EOFError, OSError):
        pass
