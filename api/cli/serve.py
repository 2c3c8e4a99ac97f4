"""`outdial serve` (the API with its projection) and `outdial project` (the worker alone)."""

from __future__ import annotations

import argparse
import logging
import threading
from uuid import uuid4

from api.bootstrap import Services, open_keys
from api.settings import Settings
from api.workers.projection import ProjectionWorker

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """The API with the read model and the dial-timeout sweeper in this process."""
    import uvicorn  # only `serve` needs the server

    from api.http.app import create_app

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    keys = open_keys(settings)
    try:
        if keys.is_empty():
            customer = uuid4()
            key = keys.create(customer, name="first key")
            print(f"No API key yet: created customer {customer} and its key (shown only now):")
            print(key, flush=True)
    finally:
        keys.close()
    # The server's own access log is off: a line per request costs more than most requests.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False)
    return 0


def project(settings: Settings, args: argparse.Namespace) -> int:
    """The projection worker, for API processes started with OUTDIAL_RUN_PROJECTIONS=false;
    it also times out overdue dials, which those processes do not."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    services = Services.open(settings)
    worker = ProjectionWorker(services)
    worker.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
        services.close()
    return 0
