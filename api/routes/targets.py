"""/v1.0/outdials/{outdial_id}/targets: the people a campaign calls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api import models
from api.auth import Customer
from api.errors import error_responses
from api.models import OutdialId, Paging, TargetId, TargetStatus
from api.runtime import Rt
from application.errors import OutdialNotFound, TargetNotFound
from application.history import target_at_time, target_at_version
from domain.errors import InvalidValue

router = APIRouter(
    prefix="/v1.0/outdials/{outdial_id}/targets",
    tags=["targets"],
    responses=error_responses(400, 401, 404, 500),
)


@router.post("", response_model=models.Target, responses=error_responses(409, 413))
def create_target(
    outdial_id: OutdialId, body: models.TargetCreate, customer: Customer, rt: Rt
) -> dict[str, Any]:
    target = rt.service.create_target(customer, outdial_id, body.new_target())
    return rt.written(models.target_wire(target))


@router.post("/batch", response_model=models.TargetBatchResult, responses=error_responses(409, 413))
def create_targets(
    outdial_id: OutdialId, body: models.TargetBatch, customer: Customer, rt: Rt
) -> dict[str, Any]:
    """Up to 1,000 targets in one atomic write: all of them or none."""
    targets = rt.service.create_targets(customer, outdial_id, body.new_targets())
    return rt.written({"result": [models.target_wire(t) for t in targets]})


@router.get("", response_model=models.TargetList)
def list_targets(
    outdial_id: OutdialId,
    customer: Customer,
    rt: Rt,
    paging: Annotated[Paging, Depends(models.paging)],
    status: Annotated[TargetStatus | None, Query(description="Only targets in it.")] = None,
    include_deleted: Annotated[bool, Query(description="Deleted targets too.")] = False,
) -> dict[str, Any]:
    """The outdial's targets, newest first."""
    if rt.queries.get_outdial(customer, outdial_id) is None:
        raise OutdialNotFound(f"outdial {outdial_id} not found")
    page = rt.queries.page_targets(
        customer,
        outdial_id,
        page_size=paging.page_size,
        page_token=paging.page_token,
        status=status,
        include_deleted=include_deleted,
    )
    return {"result": page.result, "next_page_token": page.next_page_token}


@router.get("/{target_id}", response_model=models.Target)
def get_target(
    outdial_id: OutdialId,
    target_id: TargetId,
    customer: Customer,
    rt: Rt,
    version: Annotated[
        int | None, Query(ge=1, description="The state after this version (from 1).")
    ] = None,
    at: Annotated[
        str | None, Query(description="The state at this time, e.g. 2022-04-30 17:52:16.484341.")
    ] = None,
) -> dict[str, Any]:
    """The target (also when deleted), or its state replayed up to a version or a time."""
    if version is not None and at is not None:
        raise InvalidValue("at", "give either version or at, not both")
    if version is not None:
        return models.target_wire(
            target_at_version(rt.service, customer, outdial_id, target_id, version)
        )
    if at is not None:
        moment = models.parse_time(at, "at")
        return models.target_wire(
            target_at_time(rt.service, customer, outdial_id, target_id, moment)
        )
    row = rt.queries.get_target(customer, outdial_id, target_id)
    if row is None:
        raise TargetNotFound(f"target {target_id} not found in outdial {outdial_id}")
    return row


@router.delete("/{target_id}", response_model=models.Target)
def delete_target(
    outdial_id: OutdialId, target_id: TargetId, customer: Customer, rt: Rt
) -> dict[str, Any]:
    """Soft-delete; a second delete answers the same record and records nothing new."""
    target = rt.service.delete_target(customer, outdial_id, target_id)
    return rt.written(models.target_wire(target))
