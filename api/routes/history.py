"""A target's stored events and their replay, read from the event store itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import models
from api.auth import Customer
from api.errors import error_responses
from api.models import OutdialId, TargetId
from api.runtime import Rt
from application.history import event_record, replay_trace, target_events

router = APIRouter(
    prefix="/v1.0/outdials/{outdial_id}/targets/{target_id}",
    tags=["history"],
    responses=error_responses(400, 401, 404, 500),
)


@router.get("/events", response_model=models.EventList)
def events(
    outdial_id: OutdialId, target_id: TargetId, customer: Customer, rt: Rt
) -> dict[str, Any]:
    """The target's stored events, oldest first."""
    stored = target_events(rt.service, customer, outdial_id, target_id)
    return {"result": [models.event_wire(event_record(e)) for e in stored]}


@router.get("/replay", response_model=models.Replay)
def replay(
    outdial_id: OutdialId, target_id: TargetId, customer: Customer, rt: Rt
) -> dict[str, Any]:
    """Each event with the target's state after it and the fields it changed."""
    stored = target_events(rt.service, customer, outdial_id, target_id)
    return {"result": models.replay_wire(replay_trace(stored))}
