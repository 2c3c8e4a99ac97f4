"""/v1.0/do_not_call: the customer's do-not-call list, one for all its outdials."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from api import presenters
from api.http.dependencies import Actor, AnswerOnce, Customer, WaitForReadModel
from api.http.errors import error_responses
from api.http.responses import WireResponse
from api.schemas.common import Paging, PlainText, paging
from api.schemas.do_not_call import (
    DoNotCallBatchIn,
    DoNotCallBatchOut,
    DoNotCallEntryOut,
    DoNotCallPage,
)
from api.schemas.history import DoNotCallEventsOut
from api.serving import Now, Queries, Service
from application.errors import DoNotCallEntryNotFound
from application.history import do_not_call_events, event_record
from domain.address import ADDRESS_FIELD_MAX

router = APIRouter(
    prefix="/v1.0/do_not_call",
    tags=["do not call"],
    responses=error_responses(400, 401, 429, 500, 503),
)
EntryId = Annotated[UUID, Path(description="The do-not-call entry's id.")]


@router.post("", response_model=DoNotCallBatchOut, responses=error_responses(409, 413))
def add_entries(
    body: DoNotCallBatchIn,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
    once: AnswerOnce,
) -> Response:
    """Add 1 to 1,000 entries in one atomic write: all of them or none. An entry that
    exists (the same `target`, `match` and `outdial_id`) is answered, its `reason` and
    `expires_at` changed to what was sent; a removed one is added again. No dispatch or
    start answered after this answer dials a number it blocks."""
    entries = service.add_do_not_call(customer, body.new_entries(), actor=actor)
    return once.answer(
        WireResponse(
            presenters.results(presenters.do_not_call(e) for e in wait_for_read_model(entries))
        )
    )


@router.get("", response_model=DoNotCallPage)
def list_entries(
    customer: Customer,
    queries: Queries,
    clock: Now,
    page: Annotated[Paging, Depends(paging)],
    target: Annotated[
        PlainText | None,
        Query(
            max_length=ADDRESS_FIELD_MAX,
            description="A number or address: the entries that block it now (the exact entry "
            "and every matching prefix, for every outdial or one).",
        ),
    ] = None,
    outdial_id: Annotated[
        UUID | None,
        Query(description="Only entries for this outdial (the nil UUID: for every outdial)."),
    ] = None,
    include_deleted: Annotated[bool, Query(description="Removed entries too.")] = False,
) -> WireResponse:
    """The customer's entries, newest first."""
    found = queries.page_do_not_call(
        customer,
        target=target,
        outdial_id=outdial_id,
        include_deleted=include_deleted,
        now=clock(),
        page_size=page.page_size,
        page_token=page.page_token,
    )
    return WireResponse(presenters.page(found, presenters.do_not_call_row))


@router.get("/{entry_id}", response_model=DoNotCallEntryOut, responses=error_responses(404))
def get_entry(entry_id: EntryId, customer: Customer, queries: Queries) -> WireResponse:
    """The entry, also when removed."""
    row = queries.get_do_not_call(customer, entry_id)
    if row is None:
        raise DoNotCallEntryNotFound(f"do-not-call entry {entry_id} not found")
    return WireResponse(presenters.do_not_call_row(row))


@router.delete("/{entry_id}", response_model=DoNotCallEntryOut, responses=error_responses(404))
def remove_entry(
    entry_id: EntryId,
    customer: Customer,
    actor: Actor,
    service: Service,
    wait_for_read_model: WaitForReadModel,
) -> WireResponse:
    """Remove softly (it stays readable, with `tm_delete` set and who removed it as its
    `actor`); removing again answers the same entry and records nothing."""
    entry = service.remove_do_not_call(customer, entry_id, actor=actor)
    return WireResponse(presenters.do_not_call(wait_for_read_model(entry)))


@router.get(
    "/{entry_id}/events",
    response_model=DoNotCallEventsOut,
    responses=error_responses(404),
    tags=["history"],
)
def events(entry_id: EntryId, customer: Customer, service: Service) -> WireResponse:
    """The entry's stored events, oldest first: who added, changed and removed it, when."""
    stored = do_not_call_events(service, customer, entry_id)
    return WireResponse(presenters.results(presenters.events(event_record(e) for e in stored)))
