"""The HTTP service: create_app(settings) wires routers, errors, metrics and the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.metrics import RequestMetrics
from api.routes import dials, history, ops, outdials, targets
from api.runtime import Runtime
from api.settings import Settings

DESCRIPTION = """Event-sourced outdial targets and the replayable history of every dial
attempt, wire-compatible with VoIPbin's `/v1.0/outdials` API.

Every `/v1.0` call needs an API key: `Authorization: Bearer KEY`, `?token=KEY` or
`?accesskey=KEY`. Errors are `{"error": {"status", "reason", "message", "request_id"}}`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    runtime = Runtime(settings or Settings.from_env())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The read model and the sweeper run only while the server serves.
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(
        title="Outdial target service",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    routers = [module.router for module in (outdials, targets, dials, history, ops)]
    for router in routers:
        app.include_router(router)
    errors.install(app, routers)
    # Added last, so outermost: it counts the answers the error handling produced too.
    app.add_middleware(RequestMetrics, metrics=runtime.metrics)
    return app
