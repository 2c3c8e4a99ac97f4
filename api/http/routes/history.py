"""A target's stored events and their replay, read from the event store itself."""

from __future__ import annotations

from fastapi import APIRouter

from api import presenters
from api.http.dependencies import Customer
from api.http.errors import error_responses
from api.http.responses import WireResponse
from api.schemas.common import OutdialId, TargetId
from api.schemas.history import EventsOut, ReplayOut
from api.serving import Service
from application.history import event_record, replay_steps, target_events

router = APIRouter(
    prefix="/v1.0/outdials/{outdial_id}/targets/{target_id}",
    tags=["history"],
    responses=error_responses(400, 401, 404, 429, 500, 503),
)


@router.get("/events", response_model=EventsOut)
def events(
    outdial_id: OutdialId, target_id: TargetId, customer: Customer, service: Service
) -> WireResponse:
    """The target's stored events, oldest first."""
    stored = target_events(service, customer, outdial_id, target_id)
    return WireResponse(presenters.results(presenters.events(event_record(e) for e in stored)))


@router.get("/replay", response_model=ReplayOut)
def replay(
    outdial_id: OutdialId, target_id: TargetId, customer: Customer, service: Service
) -> WireResponse:
    """Each event with the target's state after it and the fields it changed."""
    stored = target_events(service, customer, outdial_id, target_id)
    return WireResponse(presenters.results(presenters.replay(replay_steps(stored))))
