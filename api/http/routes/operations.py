"""Probes and metrics for whoever runs the service; no API key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.http.dependencies import Projection
from api.http.errors import error_responses
from api.metrics import Metrics
from api.problems import Unavailable
from api.schemas.operations import HealthOut, ReadinessOut
from api.serving import Keys, ReadModelDep, SettingsDep, serving_of
from projections.runner import why_not_following

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> dict[str, Any]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadinessOut, responses=error_responses(503))
def readyz(
    request: Request,
    read_model: ReadModelDep,
    projection: Projection,
    keys: Keys,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Ready while the stores answer, the projection is not stuck, and no event older
    than a few seconds waits for the read model (so an API process whose projection
    worker is missing is not ready once anything waits)."""
    try:
        read_model.head()
        keys.check()
    except Exception as error:
        raise Unavailable("STORE_UNAVAILABLE", f"a store does not answer: {error}") from error
    # The judge that refuses writes, so readiness and writes give one reason for one state.
    problem = why_not_following(read_model, projection, started_at=serving_of(request).started_at)
    if problem is not None:
        raise Unavailable(*problem)
    waited = read_model.oldest_waiting()
    if waited is not None and waited > settings.ready_max_delay_seconds:
        raise Unavailable(
            "PROJECTION_LAGGING",
            f"an event has waited {waited:.1f} s for the read model "
            f"(at most {settings.ready_max_delay_seconds:g} s)",
        )
    return {"status": "ready", "position": read_model.position(), "lag": read_model.lag()}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
def metrics(request: Request) -> Response:
    """Requests and latencies by route, events appended, projection position and lag."""
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
