"""/v1.0/outdials: the containers of targets, with their default dial plan."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api import models
from api.auth import Customer
from api.errors import error_responses
from api.models import OutdialId, Paging
from api.runtime import Rt
from application.errors import OutdialNotFound

router = APIRouter(
    prefix="/v1.0/outdials", tags=["outdials"], responses=error_responses(400, 401, 500)
)
WRITE = error_responses(404, 409, 413)


@router.post("", response_model=models.Outdial, responses=error_responses(413))
def create_outdial(body: models.OutdialCreate, customer: Customer, rt: Rt) -> dict[str, Any]:
    outdial = rt.service.create_outdial(
        customer,
        campaign_id=body.campaign_id,
        name=body.name,
        detail=body.detail,
        data=body.data,
    )
    return rt.written(models.outdial_wire(outdial))


@router.get("", response_model=models.OutdialList)
def list_outdials(
    customer: Customer, rt: Rt, paging: Annotated[Paging, Depends(models.paging)]
) -> dict[str, Any]:
    """The customer's outdials that are not deleted, newest first."""
    page = rt.queries.page_outdials(
        customer, page_size=paging.page_size, page_token=paging.page_token
    )
    return {"result": page.result, "next_page_token": page.next_page_token}


@router.get("/{outdial_id}", response_model=models.Outdial, responses=error_responses(404))
def get_outdial(outdial_id: OutdialId, customer: Customer, rt: Rt) -> dict[str, Any]:
    """The outdial, also when deleted."""
    row = rt.queries.get_outdial(customer, outdial_id)
    if row is None:
        raise OutdialNotFound(f"outdial {outdial_id} not found")
    return row


@router.put("/{outdial_id}", response_model=models.Outdial, responses=WRITE)
def update_outdial(
    outdial_id: OutdialId, body: models.OutdialUpdate, customer: Customer, rt: Rt
) -> dict[str, Any]:
    """Change the name and the detail; a field left out keeps its value."""
    outdial = rt.service.update_outdial(
        customer, outdial_id, name=body.given("name"), detail=body.given("detail")
    )
    return rt.written(models.outdial_wire(outdial))


@router.put("/{outdial_id}/campaign_id", response_model=models.Outdial, responses=WRITE)
def change_campaign(
    outdial_id: OutdialId, body: models.OutdialCampaign, customer: Customer, rt: Rt
) -> dict[str, Any]:
    outdial = rt.service.change_outdial_campaign(customer, outdial_id, body.campaign_id)
    return rt.written(models.outdial_wire(outdial))


@router.put("/{outdial_id}/data", response_model=models.Outdial, responses=WRITE)
def change_data(
    outdial_id: OutdialId, body: models.OutdialData, customer: Customer, rt: Rt
) -> dict[str, Any]:
    outdial = rt.service.change_outdial_data(customer, outdial_id, body.data)
    return rt.written(models.outdial_wire(outdial))


@router.put("/{outdial_id}/plan", response_model=models.Outdial, responses=WRITE)
def change_plan(
    outdial_id: OutdialId, body: models.PlanChanges, customer: Customer, rt: Rt
) -> dict[str, Any]:
    """Change the outdial's default plan; fields left out keep their value."""
    outdial = rt.service.change_outdial_plan(customer, outdial_id, body.changes())
    return rt.written(models.outdial_wire(outdial))


@router.delete("/{outdial_id}", response_model=models.Outdial, responses=error_responses(404))
def delete_outdial(outdial_id: OutdialId, customer: Customer, rt: Rt) -> dict[str, Any]:
    """Soft-delete; deleting again answers the same record."""
    outdial = rt.service.delete_outdial(customer, outdial_id)
    return rt.written(models.outdial_wire(outdial))
