"""/ui: the pages people open. Each reads what the matching /v1.0 call reads, for the
customer of the session's key, and renders it on the server; nothing needs JavaScript."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from api.http import presenters
from api.http.dependencies import Clock, Queries, Service
from api.http.schemas.common import OutdialId, PlainText, TargetId, parse_time
from api.http.schemas.dials import DialResult
from api.http.schemas.targets import TargetStatus
from api.pages.session import PageCustomer, signed_out
from api.pages.timeline import AXIS, ROW, WIDTH, duration_text, lay_out
from api.readable import changed, said_by
from application.errors import OutdialNotFound
from application.history import EventRecord, replay_steps, target_events
from domain.address import ADDRESS_FIELD_MAX
from domain.errors import InvalidValue
from domain.outdial import NO_CAMPAIGN
from domain.target import REFERENCE_ID_MAX, Target
from domain.timeline import NOT_DELETED

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    said_by=said_by, changed=changed, not_deleted=NOT_DELETED, no_campaign=str(NO_CAMPAIGN)
)
STYLE = (HERE / "static" / "pages.css").read_bytes()

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE_SIZE = 50


def _blank_is_none(value: object) -> object:
    """A form sends every field; an empty one means "not given"."""
    return None if value == "" else value


Blank = BeforeValidator(_blank_is_none)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"signed_in": True, **context}, status_code=status_code
    )


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/outdials", status_code=303)


@router.get("/static/pages.css")
def style() -> Response:
    return Response(STYLE, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.post("/sign-out")
def sign_out() -> RedirectResponse:
    return signed_out()


@router.get("/outdials")
def outdials_page(
    request: Request, customer: PageCustomer, queries: Queries, page_token: str = ""
) -> HTMLResponse:
    """The customer's outdials with their targets counted by status."""
    found = queries.page_outdials(customer, page_size=PAGE_SIZE, page_token=page_token)
    outdials = [presenters.outdial_row(row) for row in found.rows]
    counts = queries.target_counts(customer, [UUID(o["id"]) for o in outdials])
    return render(
        request,
        "outdials.html",
        outdials=outdials,
        counts=counts,
        next_page_token=found.next_page_token,
    )


@router.get("/outdials/{outdial_id}")
def outdial_page(
    request: Request,
    outdial_id: OutdialId,
    customer: PageCustomer,
    queries: Queries,
    status: Annotated[TargetStatus | None, Blank, Query()] = None,
    include_deleted: bool = False,
    page_token: str = "",
) -> HTMLResponse:
    """One outdial: its plan and its targets, newest first, filtered by status; deleted
    targets only when asked for, as on /v1.0."""
    row = queries.get_outdial(customer, outdial_id)
    if row is None:
        raise OutdialNotFound(f"outdial {outdial_id} not found")
    found = queries.page_targets(
        customer,
        outdial_id,
        page_size=PAGE_SIZE,
        page_token=page_token,
        status=status,
        include_deleted=include_deleted,
    )
    return render(
        request,
        "outdial.html",
        outdial=presenters.outdial_row(row),
        targets=[presenters.target_row(r) for r in found.rows],
        statuses=["idle", "progressing", "done"],
        status=status,
        include_deleted=include_deleted,
        next_page_token=found.next_page_token,
        next_query=urlencode(
            {
                **({"status": status} if status else {}),
                **({"include_deleted": "true"} if include_deleted else {}),
                "page_token": found.next_page_token,
            }
        ),
    )


@router.get("/outdials/{outdial_id}/targets/{target_id}")
def target_page(
    request: Request,
    outdial_id: OutdialId,
    target_id: TargetId,
    customer: PageCustomer,
    service: Service,
    queries: Queries,
    clock: Clock,
) -> HTMLResponse:
    """A target's timeline and its replay, read from the event store itself."""
    records: list[EventRecord] = []
    replayed: list[Target] = []

    def watched() -> Iterator[tuple[EventRecord, Target]]:
        for record, target in replay_steps(target_events(service, customer, outdial_id, target_id)):
            records.append(record)
            replayed[:] = [target]  # one object, moved on by each event
            yield record, target

    steps = presenters.replay(watched())
    last = replayed[0]  # target_events found at least the Created event
    judged, _ = service.availability(customer, outdial_id, target_id)
    outdial = queries.get_outdial(customer, outdial_id)
    return render(
        request,
        "target.html",
        target=steps[-1]["state"],
        outdial_name=outdial["name"] if outdial else "",
        steps=steps,
        timeline=lay_out(records, last.dials, clock()),
        dial_count=len(last.dials),
        availability=judged,
        width=WIDTH,
        axis=AXIS,
        row_height=ROW,
    )


# The text filters of /v1.0/dials, with the same limits.
DestinationText = Annotated[PlainText, Field(max_length=ADDRESS_FIELD_MAX)]
ReferenceText = Annotated[PlainText, Field(max_length=REFERENCE_ID_MAX)]
ActorText = Annotated[PlainText, Field(max_length=255)]


class AuditForm(BaseModel):
    """The audit search of /v1.0/dials, as a form sends it (empty fields unset)."""

    outdial_id: Annotated[UUID | None, Blank] = None
    target_id: Annotated[UUID | None, Blank] = None
    destination: Annotated[DestinationText | None, Blank] = None
    reference_id: Annotated[ReferenceText | None, Blank] = None
    actor: Annotated[ActorText | None, Blank] = None
    result: Annotated[DialResult | None, Blank] = None
    since: Annotated[PlainText | None, Blank] = None
    until: Annotated[PlainText | None, Blank] = None
    page_token: str = ""


# The form's text fields: name, label, an example.
AUDIT_FIELDS = (
    ("outdial_id", "Outdial id", "a UUID"),
    ("target_id", "Target id", "a UUID"),
    ("destination", "Destination", "+821100000001"),
    ("reference_id", "Reference id", "your call id"),
    ("actor", "Started by", "kid_… or system:sweeper"),
    ("since", "Started since", "2026-12-01 00:00:00"),
    ("until", "Started before", "2026-12-02 00:00:00"),
)


@router.get("/dials")
def dials_page(request: Request, customer: PageCustomer, queries: Queries) -> HTMLResponse:
    """The audit search over every dial attempt, newest first. A value the API would refuse
    shows the form again, as it was filled in, with what to change (400)."""
    asked = {name: request.query_params.get(name, "") for name in AuditForm.model_fields}
    problem = ""
    try:
        form = AuditForm.model_validate(asked)
        since = None if form.since is None else parse_time(form.since, "since")
        until = None if form.until is None else parse_time(form.until, "until")
    except ValidationError as refused:
        first = refused.errors()[0]
        problem = f"{first['loc'][0]}: {first['msg']}"
    except InvalidValue as refused:
        problem = refused.message
    context: dict[str, Any] = {
        "fields": AUDIT_FIELDS,
        "results": ["success", "fail"],
        "filters": asked,
        "problem": problem,
        "duration": lambda ms: "" if ms is None else duration_text_ms(ms),
    }
    if problem:
        return render(request, "dials.html", 400, dials=[], next_page_token="", **context)
    found = queries.search_dials(
        customer,
        outdial_id=form.outdial_id,
        target_id=form.target_id,
        destination=form.destination,
        reference_id=form.reference_id,
        actor=form.actor,
        result=form.result,
        since=since,
        until=until,
        page_size=PAGE_SIZE,
        page_token=form.page_token,
    )
    given = {k: v for k, v in asked.items() if v and k != "page_token"}
    return render(
        request,
        "dials.html",
        dials=[presenters.dial_row(row) for row in found.rows],
        next_page_token=found.next_page_token,
        next_query=urlencode({**given, "page_token": found.next_page_token}),
        **context,
    )


def duration_text_ms(ms: int) -> str:
    return duration_text(timedelta(milliseconds=ms))
