"""The HTTP service: ``create_app(settings, clock=...)`` wires routers, errors, metrics and
the lifespan."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.bootstrap import Services
from api.http.errors import install_error_handlers
from api.http.metrics import Metrics
from api.http.middleware import RequestGuard, RequestMetrics
from api.http.openapi import document_no_422
from api.http.routes import dials, history, operations, outdials, targets
from api.http.routing import RouteTable
from api.http.throttle import FailedAuthentications, parse_networks
from api.logs import configure_logging
from api.pages import routes as pages
from api.pages.errors import install_page_errors
from api.settings import Settings
from api.workers.projection import ProjectionWorker
from application.service import Clock, utc_now

DESCRIPTION = """Event-sourced outdial targets and the replayable history of every dial
attempt, wire-compatible with VoIPbin's `/v1.0/outdials` API.

Every `/v1.0` call needs an API key: `Authorization: Bearer KEY`, `?token=KEY` or
`?accesskey=KEY`. Errors are `{"error": {"status", "reason", "message", "request_id"}}`."""


class ServiceHost:
    """What one app serves with: its store's services, opened with the app, and the
    projection worker, running while the server serves.

    One app's lifespan may be entered more than once, and again after it ended (test
    clients, a fuzzer): the worker starts with the first entry and everything closes with
    the last exit, to be opened anew by the next entry.
    """

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.started_at = time.monotonic()
        self.trusted_proxies = parse_networks(settings.trusted_proxies)
        self._clock = clock
        self._lifespans = 0
        self._lock = threading.Lock()
        self._open()

    def _open(self) -> None:
        self.services = Services.open(self.settings, clock=self._clock)
        self.failed_authentications = FailedAuthentications(
            self.services.keys, self.settings.auth_failures_allowed
        )
        self.worker = ProjectionWorker(self.services) if self.settings.run_projections else None
        self._closed = False

    def enter(self) -> None:
        with self._lock:
            self._lifespans += 1
            if self._lifespans > 1:
                return
            if self._closed:
                self._open()
            if self.worker is not None:
                self.worker.start()

    def exit(self) -> None:
        with self._lock:
            self._lifespans -= 1
            if self._lifespans > 0:
                return
            if self.worker is not None:
                self.worker.stop()
            self.services.close()
            self._closed = True


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    host = ServiceHost(settings or Settings(), clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        host.enter()
        try:
            yield
        finally:
            host.exit()

    app = FastAPI(
        title="Outdial target service",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.host = host
    routers = [module.router for module in (outdials, targets, dials, history, operations)]
    for router in routers:
        app.include_router(router)
    app.state.route_table = RouteTable(routers)
    app.include_router(pages.router)
    install_error_handlers(app)
    install_page_errors(app)
    document_no_422(app)
    app.add_middleware(RequestGuard)
    metrics = Metrics()
    metrics.watch_store(
        lambda: host.services.read_model.head(),
        lambda: host.services.read_model.position(),
        lambda: host.services.read_model.lag(),
        lambda: host.worker is not None and host.worker.projection.active,
    )
    app.state.metrics = metrics
    # Added last, so outermost: it counts the answers the error handling produced too.
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app


def create_app_from_environment() -> FastAPI:
    """The app of one of several API processes: its settings come from OUTDIAL_*.

    A process that cannot start exits with uvicorn's start-up failure status, which stops
    the parent (and `serve` with status 2) instead of having the process made again."""
    import logging
    import os
    import sys

    from uvicorn.config import STARTUP_FAILURE

    from api.cli.serve import CannotStart, starting

    settings = Settings()
    configure_logging(log_format=settings.log_format)
    try:
        with starting(settings):
            return create_app(settings)
    except CannotStart as error:
        print(f"outdial serve: process {os.getpid()} cannot start: {error}", file=sys.stderr)
    except Exception:
        # Not the store: a fault of the service's own, whose traceback tells where.
        logging.getLogger(__name__).exception("process %d cannot start", os.getpid())
    raise SystemExit(STARTUP_FAILURE)
