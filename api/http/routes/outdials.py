"""/v1.0/outdials: the containers of targets, with their default dial plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi.responses import Response

from api import presenters
from api.http.dependencies import Actor, AnswerOnce, Customer, WaitForReadModel
from api.http.errors import error_responses
from api.http.responses import WireResponse
from api.schemas.common import OutdialId, Paging, paging
from api.schemas.history import OutdialEventsOut
from api.schemas.outdials import (
    CallingWindowIn,
    OutdialCampaignIn,
    OutdialDataIn,
    OutdialIn,
    OutdialOut,
    OutdialPage,
    OutdialPauseIn,
    OutdialUpdateIn,
)
from api.schemas.values import PlanChangesIn
from api.serving import Queries, Service
from application.errors import OutdialNotFound
from application.history import event_record, outdial_events

router = APIRouter(
    prefix="/v1.0/outdials", tags=["outdials"], responses=error_responses(400, 401, 429, 500, 503)
)
WRITE = error_responses(404, 409, 413)


@router.post("", response_model=OutdialOut, responses=error_responses(409, 413))
def create_outdial(
    body: OutdialIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
    once: AnswerOnce,
) -> Response:
    outdial = service.create_outdial(
        customer,
        campaign_id=body.campaign_id,
        name=body.name,
        detail=body.detail,
        data=body.data,
        ids=once.ids,
        actor=actor,
    )
    return once.answer(WireResponse(presenters.outdial(wait_for_read_model(outdial))))


@router.get("", response_model=OutdialPage)
def list_outdials(
    customer: Customer, queries: Queries, page: Annotated[Paging, Depends(paging)]
) -> WireResponse:
    """The customer's outdials that are not deleted, newest first."""
    found = queries.page_outdials(customer, page_size=page.page_size, page_token=page.page_token)
    return WireResponse(presenters.page(found, presenters.outdial_row))


@router.get("/{outdial_id}", response_model=OutdialOut, responses=error_responses(404))
def get_outdial(outdial_id: OutdialId, customer: Customer, queries: Queries) -> WireResponse:
    """The outdial, also when deleted."""
    row = queries.get_outdial(customer, outdial_id)
    if row is None:
        raise OutdialNotFound(f"outdial {outdial_id} not found")
    return WireResponse(presenters.outdial_row(row))


@router.put("/{outdial_id}", response_model=OutdialOut, responses=WRITE)
def update_outdial(
    outdial_id: OutdialId,
    body: OutdialUpdateIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    """Change the name and the detail; a field left out keeps its value."""
    outdial = service.update_outdial(
        customer, outdial_id, name=body.given("name"), detail=body.given("detail"), actor=actor
    )
    return WireResponse(presenters.outdial(wait_for_read_model(outdial)))


@router.put("/{outdial_id}/campaign_id", response_model=OutdialOut, responses=WRITE)
def change_campaign(
    outdial_id: OutdialId,
    body: OutdialCampaignIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    outdial = service.change_outdial_campaign(customer, outdial_id, body.campaign_id, actor=actor)
    return WireResponse(presenters.outdial(wait_for_read_model(outdial)))


@router.put("/{outdial_id}/data", response_model=OutdialOut, responses=WRITE)
def change_data(
    outdial_id: OutdialId,
    body: OutdialDataIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    outdial = service.change_outdial_data(customer, outdial_id, body.data, actor=actor)
    return WireResponse(presenters.outdial(wait_for_read_model(outdial)))


@router.put("/{outdial_id}/plan", response_model=OutdialOut, responses=WRITE)
def change_plan(
    outdial_id: OutdialId,
    body: PlanChangesIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    """Change the outdial's default plan; fields left out keep their value."""
    outdial = service.change_outdial_plan(customer, outdial_id, body.changes(), actor=actor)
    return WireResponse(presenters.outdial(wait_for_read_model(outdial)))


@router.post("/{outdial_id}/pause", response_model=OutdialOut, responses=WRITE)
def pause(
    outdial_id: OutdialId,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
    body: Annotated[OutdialPauseIn | None, Body()] = None,
) -> WireResponse:
    """Stop its targets being dialed: `available` and `dispatch` answer none, a start is
    409 OUTDIAL_PAUSED; dials in flight finish. Pausing a paused outdial records nothing."""
    reason = (body or OutdialPauseIn()).reason
    outdial = service.pause_outdial(customer, outdial_id, reason=reason, actor=actor)
    return WireResponse(presenters.outdial(wait_for_read_model(outdial)))


@router.post("/{outdial_id}/resume", response_model=OutdialOut, responses=WRITE)
def resume(
    outdial_id: OutdialId,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    """Dial its targets again; resuming a running outdial records nothing."""
    outdial = service.resume_outdial(customer, outdial_id, actor=actor)
    return WireResponse(presenters.outdial(wait_for_read_model(outdial)))


@router.put("/{outdial_id}/calling_window", response_model=OutdialOut, responses=WRITE)
def set_calling_window(
    outdial_id: OutdialId,
    body: CallingWindowIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    """Dial only within these hours, judged in each destination's time zones; the same
    window again records nothing."""
    outdial = service.change_calling_window(customer, outdial_id, body.window(), actor=actor)
    return WireResponse(presenters.outdial(wait_for_read_model(outdial)))


@router.delete("/{outdial_id}/calling_window", response_model=OutdialOut, responses=WRITE)
def remove_calling_window(
    outdial_id: OutdialId,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    """Dial at any time again (`calling_window` null)."""
    outdial = service.change_calling_window(customer, outdial_id, None, actor=actor)
    return WireResponse(presenters.outdial(wait_for_read_model(outdial)))


@router.get(
    "/{outdial_id}/events",
    response_model=OutdialEventsOut,
    responses=error_responses(404),
    tags=["history"],
)
def events(outdial_id: OutdialId, customer: Customer, service: Service) -> WireResponse:
    """The outdial's stored events, oldest first: who paused it, when and why."""
    stored = outdial_events(service, customer, outdial_id)
    return WireResponse(presenters.results(presenters.events(event_record(e) for e in stored)))


@router.delete("/{outdial_id}", response_model=OutdialOut, responses=error_responses(404))
def delete_outdial(
    outdial_id: OutdialId,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    """Soft-delete; deleting again answers the same record."""
    outdial = service.delete_outdial(customer, outdial_id, actor=actor)
    return WireResponse(presenters.outdial(wait_for_read_model(outdial)))
