"""The whole server of one process: the API (api/http) with the pages (api/pages) mounted
at /ui, both serving with the same store's services (api/serving.py), wrapped by the
request guard and the request metrics."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import Scope
from uvicorn.config import STARTUP_FAILURE

from api.guard import RequestGuard, RequestMetrics
from api.http.app import create_api
from api.http.errors import problem_response
from api.logs import configure_logging
from api.metrics import Metrics
from api.pages.app import PAGES, create_pages, page_of_problem
from api.problems import Problem
from api.serving import Serving
from api.settings import Settings
from api.starting import CannotStart, starting
from api.workers.projection import ProjectionWorker
from application.service import Clock, utc_now


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The server's ASGI app; the store's services open now and close with its last
    lifespan."""
    settings = settings or Settings()
    serving = Serving(settings, clock, ProjectionWorker if settings.run_projections else None)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        serving.enter()
        try:
            yield
        finally:
            serving.exit()

    app = create_api(serving, metrics)
    app.router.lifespan_context = lifespan
    app.mount(PAGES, create_pages(serving))
    app.state.serving = serving

    def render(scope: Scope, problem: Problem) -> Response:
        if scope.get("path", "").startswith(PAGES):
            return page_of_problem(scope, problem)
        return problem_response(scope, problem)

    app.add_middleware(RequestGuard, render=render)
    metrics.watch_store(
        lambda: serving.services.read_model.head(),
        lambda: serving.services.read_model.position(),
        lambda: serving.services.read_model.lag(),
        lambda: serving.projection is not None and serving.projection.active,
    )
    commits = serving.services.service.commits.counts
    metrics.watch_commits(lambda: (commits.transactions, commits.commands))
    metrics.watch_feed(
        lambda: serving.follower.subscribers,
        lambda: serving.services.webhooks.counts(serving.services.service.clock().timestamp()),
    )
    # Added last, so outermost: it counts the answers the error handling produced too.
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app


def create_app_from_environment() -> FastAPI:
    """The app of one of several API processes: its settings come from OUTDIAL_*.

    A process that cannot start exits with uvicorn's start-up failure status, which stops
    the parent (and `serve` with status 2) instead of having the process made again."""
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
    sys.exit(STARTUP_FAILURE)
