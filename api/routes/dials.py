"""Dialing, as the campaign engine calls it, and the audit search over every attempt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query

from api import models
from api.auth import Customer
from api.errors import error_responses
from api.models import LIMIT_MAX, DialId, DialResult, OutdialId, Paging, TargetId
from api.runtime import Rt, Runtime
from application.errors import ConcurrentChange, OutdialNotFound, TargetNotFound
from domain.address import ADDRESS_FIELD_MAX
from domain.plan import Plan

router = APIRouter(prefix="/v1.0", tags=["dials"], responses=error_responses(400, 401, 500))
TARGET_DIALS = "/outdials/{outdial_id}/targets/{target_id}/dials"

# The read model may lag and other dispatchers take candidates too: ask for a few per
# wanted dial, and look again when contention left the answer short.
CANDIDATES_PER_DIAL = 4
DISPATCH_ROUNDS = 3

Limit = Annotated[int, Query(ge=1, le=LIMIT_MAX, description=f"1..{LIMIT_MAX}")]


@router.get(
    "/outdials/{outdial_id}/available",
    response_model=models.TargetList,
    responses=error_responses(404),
)
def available_targets(
    outdial_id: OutdialId,
    customer: Customer,
    rt: Rt,
    plan: Annotated[models.TryPlanChanges, Query()],
    limit: Limit = LIMIT_MAX,
) -> dict[str, Any]:
    """Targets that may be dialed now, oldest `tm_update` first; omitted plan fields come
    from the outdial's plan."""
    outdial = rt.queries.get_outdial(customer, outdial_id)
    if outdial is None:
        raise OutdialNotFound(f"outdial {outdial_id} not found")
    rows = rt.queries.available_targets(
        customer,
        outdial_id,
        plan=Plan(**outdial["plan"]).with_changes(plan.changes()),
        now=rt.service.clock(),
        limit=limit,
    )
    return {"result": rows, "next_page_token": ""}


@router.post(
    "/outdials/{outdial_id}/dispatch",
    response_model=models.DispatchResult,
    responses=error_responses(404, 409, 413),
)
def dispatch(
    outdial_id: OutdialId, body: models.DispatchRequest, customer: Customer, rt: Rt
) -> dict[str, Any]:
    """Claim up to `limit` available targets and start one dial on each. Two dispatchers
    never get the same target; 409 ABORTED only when contention left nothing."""
    changes = body.plan_changes()
    plan = rt.service.plan_for(customer, outdial_id, changes)
    return rt.written({"result": _dispatched(rt, customer, outdial_id, plan, changes, body.limit)})


def _dispatched(
    rt: Runtime,
    customer: UUID,
    outdial_id: UUID,
    plan: Plan,
    changes: Mapping[str, int],
    limit: int,
) -> list[dict[str, Any]]:
    started: list[dict[str, Any]] = []
    tried: set[UUID] = set()
    for _ in range(DISPATCH_ROUNDS):
        rows = rt.queries.available_targets(
            customer,
            outdial_id,
            plan=plan,
            now=rt.service.clock(),
            limit=(limit - len(started)) * CANDIDATES_PER_DIAL,
        )
        candidates = [UUID(row["id"]) for row in rows if UUID(row["id"]) not in tried]
        tried.update(candidates)
        for target_id, dial in rt.service.dispatch(
            customer, outdial_id, candidates, limit=limit - len(started), plan_changes=changes
        ):
            started.append(
                models.dial_wire(
                    dial, customer_id=customer, outdial_id=outdial_id, target_id=target_id
                )
            )
        if not candidates or len(started) == limit:
            break
    if tried and not started:
        raise ConcurrentChange("other dispatchers took every available target; retry")
    return started


@router.post(TARGET_DIALS, response_model=models.Dial, responses=error_responses(404, 409, 413))
def start_dial(
    outdial_id: OutdialId,
    target_id: TargetId,
    customer: Customer,
    rt: Rt,
    body: Annotated[models.DialStart | None, Body()] = None,
) -> dict[str, Any]:
    """Start one dial now (an operator's redial does not wait for `try_interval`);
    default destination: the next in order."""
    request = body or models.DialStart()
    dial = rt.service.start_dial(
        customer,
        outdial_id,
        target_id,
        plan_changes=request.plan_changes(),
        destination_index=request.destination_index,
        reference_id=request.reference_id,
        manual=True,
    )
    return rt.written(
        models.dial_wire(dial, customer_id=customer, outdial_id=outdial_id, target_id=target_id)
    )


@router.put(
    TARGET_DIALS + "/{dial_id}",
    response_model=models.Target,
    responses=error_responses(404, 409, 413),
)
def finish_dial(
    outdial_id: OutdialId,
    target_id: TargetId,
    dial_id: DialId,
    body: models.DialFinish,
    customer: Customer,
    rt: Rt,
) -> dict[str, Any]:
    """Record the dial's result; the same finish again is a no-op, another result is 409."""
    target = rt.service.finish_dial(
        customer, outdial_id, target_id, dial_id, result=body.result, reason=body.reason
    )
    return rt.written(models.target_wire(target))


@router.get(TARGET_DIALS, response_model=models.DialList, responses=error_responses(404))
def dials_of_target(
    outdial_id: OutdialId,
    target_id: TargetId,
    customer: Customer,
    rt: Rt,
    paging: Annotated[Paging, Depends(models.paging)],
) -> dict[str, Any]:
    """The target's dials, newest first."""
    if rt.queries.get_target(customer, outdial_id, target_id) is None:
        raise TargetNotFound(f"target {target_id} not found in outdial {outdial_id}")
    page = rt.queries.dials_of_target(
        customer,
        outdial_id,
        target_id,
        page_size=paging.page_size,
        page_token=paging.page_token,
    )
    return {"result": page.result, "next_page_token": page.next_page_token}


@router.get("/dials", response_model=models.DialList)
def search_dials(
    customer: Customer,
    rt: Rt,
    paging: Annotated[Paging, Depends(models.paging)],
    outdial_id: Annotated[UUID | None, Query()] = None,
    target_id: Annotated[UUID | None, Query()] = None,
    destination: Annotated[
        str | None, Query(max_length=ADDRESS_FIELD_MAX, description="The dialed `target`.")
    ] = None,
    result: Annotated[DialResult | None, Query()] = None,
    since: Annotated[str | None, Query(description="On `tm_start`, inclusive.")] = None,
    until: Annotated[str | None, Query(description="On `tm_start`, exclusive.")] = None,
) -> dict[str, Any]:
    """Every dial of the customer's that matches, newest first (the audit search)."""
    page = rt.queries.search_dials(
        customer,
        outdial_id=outdial_id,
        target_id=target_id,
        destination=destination,
        result=result,
        since=None if since is None else models.parse_time(since, "since"),
        until=None if until is None else models.parse_time(until, "until"),
        page_size=paging.page_size,
        page_token=paging.page_token,
    )
    return {"result": page.result, "next_page_token": page.next_page_token}
