"""/v1.0/outdials/{outdial_id}/targets: the people a campaign calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api import presenters
from api.http.dependencies import Actor, AnswerOnce, Customer, WaitForReadModel
from api.http.errors import error_responses
from api.http.responses import WireResponse
from api.schemas.common import (
    OutdialId,
    Paging,
    TargetId,
    WholeNumber,
    paging,
    parse_time,
)
from api.schemas.targets import (
    TargetBatchIn,
    TargetBatchOut,
    TargetIn,
    TargetOut,
    TargetPage,
    TargetStatus,
)
from api.serving import Queries, Service
from application.errors import OutdialNotFound, TargetNotFound
from application.history import target_at_time, target_at_version
from domain.errors import InvalidValue

router = APIRouter(
    prefix="/v1.0/outdials/{outdial_id}/targets",
    tags=["targets"],
    responses=error_responses(400, 401, 404, 429, 500, 503),
)


@router.post("", response_model=TargetOut, responses=error_responses(409, 413))
def create_target(
    outdial_id: OutdialId,
    body: TargetIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
    once: AnswerOnce,
) -> Response:
    target = service.create_target(
        customer, outdial_id, body.new_target(), ids=once.ids, actor=actor
    )
    return once.answer(WireResponse(presenters.target(wait_for_read_model(target))))


@router.post("/batch", response_model=TargetBatchOut, responses=error_responses(409, 413))
def create_targets(
    outdial_id: OutdialId,
    body: TargetBatchIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
    once: AnswerOnce,
) -> Response:
    """Up to 1,000 targets in one atomic write: all of them or none."""
    targets = service.create_targets(
        customer, outdial_id, body.new_targets(), ids=once.ids, actor=actor
    )
    return once.answer(
        WireResponse(presenters.results(presenters.target(t) for t in wait_for_read_model(targets)))
    )


@router.get("", response_model=TargetPage)
def list_targets(
    outdial_id: OutdialId,
    customer: Customer,
    queries: Queries,
    page: Annotated[Paging, Depends(paging)],
    status: Annotated[TargetStatus | None, Query(description="Only targets in it.")] = None,
    include_deleted: Annotated[bool, Query(description="Deleted targets too.")] = False,
) -> WireResponse:
    """The outdial's targets, newest first."""
    if queries.get_outdial(customer, outdial_id) is None:
        raise OutdialNotFound(f"outdial {outdial_id} not found")
    found = queries.page_targets(
        customer,
        outdial_id,
        page_size=page.page_size,
        page_token=page.page_token,
        status=status,
        include_deleted=include_deleted,
    )
    return WireResponse(presenters.page(found, presenters.target_row))


@router.get("/{target_id}", response_model=TargetOut)
def get_target(
    outdial_id: OutdialId,
    target_id: TargetId,
    customer: Customer,
    queries: Queries,
    service: Service,
    version: Annotated[
        int | None,
        WholeNumber,
        Query(ge=1, description="The state after this version (from 1)."),
    ] = None,
    at: Annotated[
        str | None, Query(description="The state at this time, e.g. 2022-04-30 17:52:16.484341.")
    ] = None,
) -> WireResponse:
    """The target (also when deleted), or its state replayed up to a version or a time."""
    if version is not None and at is not None:
        raise InvalidValue("at", "give either version or at, not both")
    if version is not None:
        return WireResponse(
            presenters.target(target_at_version(service, customer, outdial_id, target_id, version))
        )
    if at is not None:
        moment = parse_time(at, "at")
        return WireResponse(
            presenters.target(target_at_time(service, customer, outdial_id, target_id, moment))
        )
    row = queries.get_target(customer, outdial_id, target_id)
    if row is None:
        raise TargetNotFound(f"target {target_id} not found in outdial {outdial_id}")
    return WireResponse(presenters.target_row(row))


@router.delete("/{target_id}", response_model=TargetOut)
def delete_target(
    outdial_id: OutdialId,
    target_id: TargetId,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    """Soft-delete; a second delete answers the same record and records nothing new."""
    target = service.delete_target(customer, outdial_id, target_id, actor=actor)
    return WireResponse(presenters.target(wait_for_read_model(target)))
