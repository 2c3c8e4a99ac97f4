"""The API under /v1.0 and the probes: ``create_api(serving)`` wires the routers, the
JSON rendering of every refusal and the published description."""

from __future__ import annotations

from fastapi import FastAPI

from api.http.dependencies import AnsweredBefore
from api.http.errors import install_error_handlers
from api.http.openapi import document_keys, document_no_422
from api.http.routes import (
    dials,
    do_not_call,
    erasures,
    events,
    history,
    operations,
    outdials,
    targets,
    webhook,
)
from api.http.routing import RouteTable
from api.metrics import Metrics
from api.serving import Serving

DESCRIPTION = """Event-sourced outdial targets and the replayable history of every dial
attempt, wire-compatible with VoIPbin's `/v1.0/outdials` API.

Every `/v1.0` call needs an API key: `Authorization: Bearer KEY`, `?token=KEY` or
`?accesskey=KEY`. Errors are `{"error": {"status", "reason", "message", "request_id"}}`."""


def create_api(serving: Serving, metrics: Metrics) -> FastAPI:
    api = FastAPI(title="Outdial target service", version="1.0", description=DESCRIPTION)
    api.state.serving = serving
    api.state.metrics = metrics
    routers = [
        module.router
        for module in (
            outdials,
            targets,
            dials,
            do_not_call,
            erasures,
            history,
            events,
            webhook,
            operations,
        )
    ]
    for router in routers:
        api.include_router(router)
    api.state.route_table = RouteTable(routers)
    install_error_handlers(api)
    api.add_exception_handler(
        AnsweredBefore,
        lambda _, replayed: replayed.response(),
    )
    document_no_422(api)
    document_keys(api, routers)
    return api
