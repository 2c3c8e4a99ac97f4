"""`outdial serve` (the API with its projection) and `outdial project` (the worker alone)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from uuid import uuid4

from api.bootstrap import Services, open_keys
from api.logs import configure_logging
from api.settings import Settings
from api.workers.projection import ProjectionWorker


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """The API; with one process, the read model's projection and the dial-timeout
    sweeper run in it; with ``--workers N``, N API processes share the port and one
    projection process runs beside them (none with ``--no-run-projections``)."""
    import uvicorn  # only `serve` needs the server

    from api.http.app import create_app

    configure_logging(log_format=settings.log_format)
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
    # Its proxy headers are off too: it would trust X-Forwarded-For from any local peer;
    # the service reads that header itself, from OUTDIAL_TRUSTED_PROXIES only.
    if settings.workers == 1:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            access_log=False,
            proxy_headers=False,
            log_config=None,  # uvicorn's lines go through ours, which redact secrets
        )
        return 0
    # The projection process beside them, unless workers of their own run elsewhere.
    projector = (
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "project"],
            env={**os.environ, **settings_environment(settings)},
        )
        if settings.run_projections
        else None
    )
    try:
        os.environ.update(
            settings_environment(settings.model_copy(update={"run_projections": False}))
        )
        uvicorn.run(
            "api.http.app:create_app_from_environment",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            access_log=False,
            proxy_headers=False,
            log_config=None,  # uvicorn's lines go through ours, which redact secrets
        )
    finally:
        if projector is not None:
            projector.terminate()
            projector.wait(timeout=15)
    return 0


def project(settings: Settings, args: argparse.Namespace) -> int:
    """A projection worker: the active one applies events and times out overdue dials;
    any others wait as hot standbys and one takes over when it goes."""
    configure_logging(log_format=settings.log_format)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    services = Services.open(settings)
    worker = ProjectionWorker(services)
    worker.start()
    try:
        while not stopping.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
        services.close()
    return 0


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as OUTDIAL_* variables, for processes this one starts."""
    values = settings.model_dump(exclude_none=True)
    return {
        f"OUTDIAL_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in values.items()
    }
