"""Probes and metrics for whoever runs the service; no API key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.http.dependencies import Keys, Projection, ReadModelDep, SettingsDep
from api.http.errors import Unavailable, error_responses
from api.http.metrics import Metrics
from api.http.schemas.operations import HealthOut, ReadinessOut

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> dict[str, Any]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadinessOut, responses=error_responses(503))
def readyz(
    read_model: ReadModelDep, projection: Projection, keys: Keys, settings: SettingsDep
) -> dict[str, Any]:
    """The stores answer and the read model is not too far behind the events."""
    try:
        read_model.head()
        keys.check()
    except Exception as error:
        raise Unavailable("STORE_UNREACHABLE", f"a store does not answer: {error}") from error
    if projection is not None and projection.failing():
        raise Unavailable("PROJECTION_FAILING", f"the read model is stuck: {projection.last_error}")
    lag = read_model.lag()
    if lag > settings.ready_max_lag:
        raise Unavailable(
            "PROJECTION_LAGGING",
            f"the read model is {lag} events behind (at most {settings.ready_max_lag})",
        )
    return {"status": "ready", "position": read_model.position(), "lag": lag}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
def metrics(request: Request) -> Response:
    """Requests and latencies by route, events appended, projection position and lag."""
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
