"""Dialing, as the campaign engine calls it, and the audit search over every attempt."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response

from api import presenters
from api.http.dependencies import Actor, AnswerOnce, Customer, WaitForReadModel
from api.http.errors import error_responses
from api.http.responses import WireResponse
from api.schemas.common import (
    DialId,
    OutdialId,
    Paging,
    PlainText,
    TargetId,
    WholeNumber,
    paging,
    parse_time,
)
from api.schemas.dials import (
    LIMIT_MAX,
    AvailabilityOut,
    DialFinishIn,
    DialOut,
    DialPage,
    DialResult,
    DialStartIn,
    DispatchIn,
    DispatchOut,
)
from api.schemas.targets import TargetOut, TargetPage
from api.schemas.values import TryPlanQuery
from api.serving import Now, Queries, Service
from application.errors import OutdialNotFound, TargetNotFound
from domain.address import ADDRESS_FIELD_MAX
from domain.target import REFERENCE_ID_MAX

router = APIRouter(
    prefix="/v1.0", tags=["dials"], responses=error_responses(400, 401, 429, 500, 503)
)
TARGET_DIALS = "/outdials/{outdial_id}/targets/{target_id}/dials"

Limit = Annotated[int, WholeNumber, Query(ge=1, le=LIMIT_MAX, description=f"1..{LIMIT_MAX}")]


@router.get(
    "/outdials/{outdial_id}/available", response_model=TargetPage, responses=error_responses(404)
)
def available_targets(
    outdial_id: OutdialId,
    customer: Customer,
    queries: Queries,
    clock: Now,
    plan: Annotated[TryPlanQuery, Query()],
    limit: Limit = LIMIT_MAX,
) -> WireResponse:
    """Targets that may be dialed now, oldest `tm_update` first; omitted plan fields come
    from the outdial's plan."""
    own = queries.outdial_plan(customer, outdial_id)
    if own is None:
        raise OutdialNotFound(f"outdial {outdial_id} not found")
    rows = queries.available_targets(
        customer, outdial_id, plan=own.with_changes(plan.changes()), now=clock(), limit=limit
    )
    return WireResponse(
        {"result": [presenters.target_row(row) for row in rows], "next_page_token": ""}
    )


@router.get(
    "/outdials/{outdial_id}/targets/{target_id}/availability",
    response_model=AvailabilityOut,
    responses=error_responses(404),
)
def target_availability(
    outdial_id: OutdialId,
    target_id: TargetId,
    customer: Customer,
    service: Service,
    plan: Annotated[TryPlanQuery, Query()],
) -> WireResponse:
    """Why this target may or may not be dialed now, judged by the code that decides
    dispatch; omitted plan fields come from the outdial's plan."""
    judged, judged_plan = service.availability(
        customer, outdial_id, target_id, plan_changes=plan.changes()
    )
    return WireResponse(presenters.availability(judged, judged_plan))


@router.post(
    "/outdials/{outdial_id}/dispatch",
    response_model=DispatchOut,
    responses=error_responses(404, 409, 413),
)
def dispatch(
    outdial_id: OutdialId,
    body: DispatchIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    queries: Queries,
    wait_for_read_model: WaitForReadModel,
    once: AnswerOnce,
) -> Response:
    """Claim up to `limit` available targets and start one dial on each. Two dispatchers
    never get the same target; 409 ABORTED only when contention left nothing."""

    dispatched = service.dispatch(
        customer,
        outdial_id,
        limit=body.limit,
        candidates=queries,
        plan_changes=body.plan_changes(),
        ids=once.ids,
        actor=actor,
    )
    return once.answer(
        WireResponse(
            presenters.results(
                presenters.dial(dial, outdial_id=outdial_id, target_id=target_id)
                for target_id, dial in wait_for_read_model(dispatched)
            )
        )
    )


@router.post(TARGET_DIALS, response_model=DialOut, responses=error_responses(404, 409, 413))
def start_dial(
    outdial_id: OutdialId,
    target_id: TargetId,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
    once: AnswerOnce,
    body: Annotated[DialStartIn | None, Body()] = None,
) -> Response:
    """Start one dial now (an operator's redial does not wait for `try_interval`);
    default destination: the next in order."""
    request = body or DialStartIn()
    dial = service.start_dial(
        customer,
        outdial_id,
        target_id,
        plan_changes=request.plan_changes(),
        destination_index=request.destination_index,
        reference_id=request.reference_id,
        manual=True,
        ids=once.ids,
        actor=actor,
    )
    return once.answer(
        WireResponse(
            presenters.dial(wait_for_read_model(dial), outdial_id=outdial_id, target_id=target_id)
        )
    )


@router.put(
    TARGET_DIALS + "/{dial_id}", response_model=TargetOut, responses=error_responses(404, 409, 413)
)
def finish_dial(
    outdial_id: OutdialId,
    target_id: TargetId,
    dial_id: DialId,
    body: DialFinishIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    """Record the dial's result; the same finish again is a no-op, another result is 409."""
    target = service.finish_dial(
        customer,
        outdial_id,
        target_id,
        dial_id,
        result=body.result,
        reason=body.reason,
        actor=actor,
    )
    return WireResponse(presenters.target(wait_for_read_model(target)))


@router.get(TARGET_DIALS, response_model=DialPage, responses=error_responses(404))
def dials_of_target(
    outdial_id: OutdialId,
    target_id: TargetId,
    customer: Customer,
    queries: Queries,
    page: Annotated[Paging, Depends(paging)],
) -> WireResponse:
    """The target's dials, newest first."""
    if queries.get_target(customer, outdial_id, target_id) is None:
        raise TargetNotFound(f"target {target_id} not found in outdial {outdial_id}")
    found = queries.dials_of_target(
        customer, outdial_id, target_id, page_size=page.page_size, page_token=page.page_token
    )
    return WireResponse(presenters.page(found, presenters.dial_row))


@router.get("/dials", response_model=DialPage)
def search_dials(
    customer: Customer,
    queries: Queries,
    page: Annotated[Paging, Depends(paging)],
    outdial_id: Annotated[UUID | None, Query()] = None,
    target_id: Annotated[UUID | None, Query()] = None,
    destination: Annotated[
        PlainText | None,
        Query(max_length=ADDRESS_FIELD_MAX, description="The dialed `target`."),
    ] = None,
    reference_id: Annotated[
        PlainText | None,
        Query(max_length=REFERENCE_ID_MAX, description="The caller's id of the call."),
    ] = None,
    actor: Annotated[
        PlainText | None,
        Query(max_length=255, description="Who started it: a key id (`kid_...`)."),
    ] = None,
    result: Annotated[DialResult | None, Query()] = None,
    since: Annotated[str | None, Query(description="On `tm_start`, inclusive.")] = None,
    until: Annotated[str | None, Query(description="On `tm_start`, exclusive.")] = None,
) -> WireResponse:
    """Every dial of the customer's that matches, newest first (the audit search)."""
    found = queries.search_dials(
        customer,
        outdial_id=outdial_id,
        target_id=target_id,
        destination=destination,
        reference_id=reference_id,
        actor=actor,
        result=result,
        since=None if since is None else parse_time(since, "since"),
        until=None if until is None else parse_time(until, "until"),
        page_size=page.page_size,
        page_token=page.page_token,
    )
    return WireResponse(presenters.page(found, presenters.dial_row))
