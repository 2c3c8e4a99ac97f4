"""Probes and metrics for whoever runs the service; no API key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from api import models
from api.errors import Unavailable, error_responses
from api.runtime import Rt

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=models.Health)
def healthz() -> dict[str, Any]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", response_model=models.Readiness, responses=error_responses(503))
def readyz(rt: Rt) -> dict[str, Any]:
    """The stores answer and the read model is not too far behind the events."""
    try:
        rt.service.recorder.max_notification_id()
        rt.keys.check()
    except Exception as error:
        raise Unavailable("STORE_UNREACHABLE", f"a store does not answer: {error}") from error
    if rt.read_model.failing():
        raise Unavailable(
            "PROJECTION_FAILING", f"the read model is stuck: {rt.read_model.last_error}"
        )
    lag = rt.read_model.lag()
    if lag > rt.settings.ready_max_lag:
        raise Unavailable(
            "PROJECTION_LAGGING",
            f"the read model is {lag} events behind (at most {rt.settings.ready_max_lag})",
        )
    return {"status": "ready", "position": rt.read_model.position(), "lag": lag}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
def metrics(rt: Rt) -> Response:
    """Requests and latencies by route, events appended, projection position and lag."""
    return Response(rt.metrics.render(), media_type=CONTENT_TYPE_LATEST)
