"""/v1.0/erasures: a person's data erased on request (SPEC §13)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from api import presenters
from api.http.dependencies import Actor, AnswerOnce, Customer, WaitForReadModel
from api.http.errors import error_responses
from api.http.responses import WireResponse
from api.schemas.common import Paging, paging
from api.schemas.erasures import ErasureIn, ErasureOut, ErasurePage
from api.serving import Queries, Service
from application.errors import ErasureNotFound
from domain.address import Address
from domain.errors import InvalidValue

router = APIRouter(
    prefix="/v1.0/erasures",
    tags=["erasures"],
    responses=error_responses(400, 401, 429, 500, 503),
)
ErasureId = Annotated[UUID, Path(description="The erasure's id.")]
_FORMS = "exactly one of target_ids, address or outdial_id must be given"
# An erasure answers once its keys are destroyed, which the read model's projection of it
# does: it waits for that longer than other writes (a whole outdial's erasure blanks many
# rows), and past this answers with X-Read-Model: behind like any write.
ERASURE_WAIT_S = 60.0


@router.post("", response_model=ErasureOut, responses=error_responses(404, 409, 413))
def erase(
    body: ErasureIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    queries: Queries,
    wait_for_read_model: WaitForReadModel,
    once: AnswerOnce,
) -> Response:
    """Erase a person: the targets named, every target of the customer with a destination
    at an address, or every target of a deleted outdial. Each target not deleted yet is
    deleted, its key destroyed and its rows blanked before this answers: its events stay,
    with their personal fields unreadable; status, try counts, times and dial results
    stay as they were. One target unknown or of another customer is 404 and nothing is
    erased; one stored before sealing is 409 `STORED_IN_PLAINTEXT`."""
    forms = [body.target_ids is not None, body.address is not None, body.outdial_id is not None]
    if sum(forms) != 1:
        raise InvalidValue("target_ids" if not any(forms) else "body", _FORMS)
    if body.do_not_call is not None and body.address is None:
        raise InvalidValue("do_not_call", "may be given with address only")
    if body.target_ids is not None:
        written = service.erase_targets(
            customer, body.target_ids, reason=body.reason, ids=once.ids, actor=actor
        )
    elif body.address is not None:
        address = Address.parse_destination(body.address.model_dump(), "address")
        if address is None:
            raise InvalidValue("address.target", "must not be empty")
        written = service.erase_address(
            customer,
            address,
            candidates=queries,
            reason=body.reason,
            do_not_call=bool(body.do_not_call),
            ids=once.ids,
            actor=actor,
        )
    else:
        assert body.outdial_id is not None
        written = service.erase_outdial(
            customer,
            body.outdial_id,
            candidates=queries,
            reason=body.reason,
            ids=once.ids,
            actor=actor,
        )
    erasure = wait_for_read_model(written, at_least=ERASURE_WAIT_S)
    return once.answer(WireResponse(presenters.erasure(erasure)))


@router.get("", response_model=ErasurePage)
def list_erasures(
    customer: Customer,
    queries: Queries,
    page: Annotated[Paging, Depends(paging)],
    target_id: Annotated[
        UUID | None,
        Query(description="Only the erasures that name this target or erased its outdial."),
    ] = None,
) -> WireResponse:
    """The customer's erasures, newest first."""
    found = queries.page_erasures(
        customer, target_id=target_id, page_size=page.page_size, page_token=page.page_token
    )
    return WireResponse(presenters.page(found, presenters.erasure_row))


@router.get("/{erasure_id}", response_model=ErasureOut, responses=error_responses(404))
def get_erasure(erasure_id: ErasureId, customer: Customer, queries: Queries) -> WireResponse:
    row = queries.get_erasure(customer, erasure_id)
    if row is None:
        raise ErasureNotFound(f"erasure {erasure_id} not found")
    return WireResponse(presenters.erasure_row(row))
