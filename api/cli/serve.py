"""`outdial serve` (the API with its projection) and `outdial project` (the worker alone)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from contextlib import ExitStack, suppress
from uuid import uuid4

from api.bootstrap import bootstrap
from api.logs import configure_logging
from api.settings import Settings
from api.starting import starting
from api.workers.projection import ProjectionWorker


def serve(settings: Settings, args: argparse.Namespace) -> int:
    """The API; with one process, the read model's projection and the dial-timeout
    sweeper run in it; with ``--workers N``, N API processes share the port and one
    projection process runs beside them (none with ``--no-run-projections``)."""
    import uvicorn  # only `serve` needs the server

    from api.server import create_app

    configure_logging(log_format=settings.log_format)
    with starting(settings), bootstrap(settings) as services:
        if services.keys.is_empty():
            customer = uuid4()
            key = services.keys.create(customer, name="first key")
            print(f"No API key yet: created customer {customer} and its key (shown only now):")
            print(key, flush=True)
    # The server's own access log is off: a line per request costs more than most requests.
    # Its proxy headers are off too: it would trust X-Forwarded-For from any local peer;
    # the service reads that header itself, from OUTDIAL_TRUSTED_PROXIES only.
    if settings.workers == 1:
        with starting(settings):
            app = create_app(settings)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            access_log=False,
            proxy_headers=False,
            log_config=None,  # uvicorn's lines go through ours, which redact secrets
        )
        return 0
    return serve_processes(settings)


def serve_processes(settings: Settings) -> int:
    """N API processes on one port and the projection process beside them; 2 when any of
    them cannot start, and all of them stop then rather than serve with fewer."""
    from uvicorn import Config
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    os.environ.update(settings_environment(settings.model_copy(update={"run_projections": False})))
    config = Config(
        "api.server:create_app_from_environment",
        factory=True,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        access_log=False,
        proxy_headers=False,
        log_config=None,  # uvicorn's lines go through ours, which redact secrets
    )
    sock = config.bind_socket()
    supervisor = Multiprocess(config, sockets=[sock])
    # The projection process beside them, unless workers of their own run elsewhere.
    projector = (
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "project"],
            env={**os.environ, **settings_environment(settings)},
        )
        if settings.run_projections
        else None
    )
    projector_ended = threading.Event()

    def watch_projector() -> None:
        assert projector is not None
        while not supervisor.should_exit.wait(0.2):
            if projector.poll() is not None:
                # Not when a signal to stop everything reached it first (Ctrl-C).
                if not supervisor.should_exit.is_set() and not supervisor.signal_queue:
                    projector_ended.set()
                supervisor.should_exit.set()

    if projector is not None:
        threading.Thread(target=watch_projector, name="projector-watch", daemon=True).start()
    try:
        supervisor.run()
    finally:
        supervisor.should_exit.set()
        sock.close()
        if projector is not None and projector.poll() is None:
            projector.terminate()
            try:
                projector.wait(timeout=15)
            except subprocess.TimeoutExpired:
                projector.kill()
                projector.wait()
    failed = [str(p.pid) for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
    if failed:
        which = f"API process{'es' if len(failed) > 1 else ''} {', '.join(failed)}"
        print(f"outdial serve: stopped: {which} could not start", file=sys.stderr)
        return 2
    if projector is not None and projector_ended.is_set():
        code = projector.returncode
        print(
            f"outdial serve: stopped: the projection process {projector.pid} "
            f"exited with status {code}",
            file=sys.stderr,
        )
        return 2 if code == 2 else 1  # 2: it could not start (see `main`)
    return 0


def project(settings: Settings, args: argparse.Namespace) -> int:
    """A projection worker: the active one applies events and times out overdue dials;
    any others wait as hot standbys and one takes over when it goes."""
    configure_logging(log_format=settings.log_format)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with ExitStack() as running:
        with starting(settings):
            services = running.enter_context(bootstrap(settings))
        worker = ProjectionWorker(services)
        worker.start()
        running.callback(worker.stop)
        with suppress(KeyboardInterrupt):
            while not stopping.wait(1.0):
                pass
    return 0


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as OUTDIAL_* variables, for processes this one starts."""
    values = settings.model_dump(exclude_none=True)
    return {
        f"OUTDIAL_{name.upper()}": str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in values.items()
    }
