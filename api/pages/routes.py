"""/ui: the pages people open. Each reads what the matching /v1.0 call reads, for the
customer of the session's key, and renders it on the server; nothing needs JavaScript."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from api import presenters
from api.pages.errors import page_of_problem
from api.pages.session import (
    HOME,
    PageCustomer,
    from_another_site,
    from_this_origin,
    has_session,
    page_to_go_to,
    session_started,
    signed_out,
    signing_in,
)
from api.pages.templating import STYLE, templates
from api.pages.timeline import AXIS, ROW, WIDTH, duration_text, lay_out, rule_words
from api.problems import Problem, Throttled, Unauthenticated, problem_of
from api.schemas.common import OutdialId, PlainText, TargetId, parse_time
from api.schemas.dials import DialResult
from api.schemas.targets import TargetStatus
from api.serving import Now, Queries, Service
from application.errors import OutdialNotFound
from application.history import EventRecord, replay_steps, target_events
from domain.address import ADDRESS_FIELD_MAX
from domain.errors import InvalidValue
from domain.retry_rules import Decision
from domain.target import REFERENCE_ID_MAX, Target
from domain.text import NAME_MAX
from projections.paging import PAGE_SIZE_MAX
from projections.schema import DESTINATIONS

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def _blank_is_none(value: object) -> object:
    """A form sends every field; an empty one means "not given"."""
    return None if value == "" else value


Blank = BeforeValidator(_blank_is_none)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"signed_in": True, **context}, status_code=status_code
    )


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/outdials", status_code=303)


@router.get("/static/pages.css")
def style() -> Response:
    return Response(STYLE, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """The sign-in a person confirmed on the page that asked them (another site had sent
    them to a page with a key): taken only from this service's own pages, and landing
    only on one of them."""
    if not from_this_origin(request):
        refused = Problem(
            403,
            "FORBIDDEN",
            "This sign-in was sent from another site, so it was not done. To sign in, "
            "open a page of this service yourself and sign in there.",
        )
        return page_of_problem(
            request.scope,
            refused,
            signed_in=await has_session(request),
            heading="Sign in refused",
        )
    form = dict(parse_qsl((await request.body()).decode("latin-1"), keep_blank_values=True))
    location = page_to_go_to(form.get("next", ""))
    key = form.get("token", "")
    try:
        await signing_in(request, key)
    except (Unauthenticated, Throttled) as refused:  # the form again, for the page asked
        problem = problem_of(refused, path=request.url.path, method=request.method)
        return page_of_problem(request.scope, problem, action=location.partition("?")[0])
    return session_started(request, key, location)


@router.post("/sign-out")
def sign_out(request: Request) -> RedirectResponse:
    """Only this service's own button signs out: another site cannot end a session."""
    if from_another_site(request):
        return RedirectResponse(HOME, status_code=303)
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


# The outdial page's search: a part of a name, or a destination's target as it is.
SearchText = Annotated[PlainText, Field(max_length=max(NAME_MAX, ADDRESS_FIELD_MAX))]


class TargetsForm(BaseModel):
    """The outdial page's filters, as its form sends them (empty fields unset)."""

    status: Annotated[TargetStatus | None, Blank] = None
    include_deleted: bool = False
    q: Annotated[SearchText | None, Blank] = None
    page_token: str = ""


@router.get("/outdials/{outdial_id}")
def outdial_page(
    request: Request, outdial_id: OutdialId, customer: PageCustomer, queries: Queries
) -> HTMLResponse:
    """One outdial: its plan, its live targets counted by status, and its targets newest
    first, filtered by status and found by name or number; deleted targets only when
    asked for, as on /v1.0. A filter the page cannot take shows the form again (400)."""
    row = queries.get_outdial(customer, outdial_id)
    if row is None:
        raise OutdialNotFound(f"outdial {outdial_id} not found")
    asked = {name: request.query_params.get(name, "") for name in TargetsForm.model_fields}
    asked["include_deleted"] = request.query_params.get("include_deleted") or "false"
    context: dict[str, Any] = {
        "outdial": presenters.outdial_row(row),
        "counts": queries.target_counts(customer, [outdial_id])[str(outdial_id)],
        "statuses": ["idle", "progressing", "done"],
    }
    try:
        form = TargetsForm.model_validate(asked)
    except ValidationError as refused:
        first = refused.errors()[0]
        return render(
            request,
            "outdial.html",
            400,
            problem=f"{first['loc'][0]}: {first['msg']}",
            targets=[],
            status=asked["status"],
            include_deleted=asked["include_deleted"] != "false",
            q=asked["q"],
            next_page_token="",
            **context,
        )
    found = queries.page_targets(
        customer,
        outdial_id,
        page_size=PAGE_SIZE,
        page_token=form.page_token,
        status=form.status,
        include_deleted=form.include_deleted,
        search=form.q,
    )
    return render(
        request,
        "outdial.html",
        problem="",
        targets=[presenters.target_row(r) for r in found.rows],
        status=form.status,
        include_deleted=form.include_deleted,
        q=form.q,
        next_page_token=found.next_page_token,
        next_query=urlencode(
            {
                **({"status": form.status} if form.status else {}),
                **({"include_deleted": "true"} if form.include_deleted else {}),
                **({"q": form.q} if form.q is not None else {}),
                "page_token": found.next_page_token,
            }
        ),
        **context,
    )


@router.get("/outdials/{outdial_id}/targets/{target_id}")
def target_page(
    request: Request,
    outdial_id: OutdialId,
    target_id: TargetId,
    customer: PageCustomer,
    service: Service,
    queries: Queries,
    clock: Now,
) -> HTMLResponse:
    """A target's timeline and its replay, read from the event store itself, with what
    its plan's retry rules decided: each finish's rule, the destinations they closed and
    the finish that made it done."""
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
    decisions = {dial_id: last.decision_of(dial.id) for dial_id, dial in last.dials.items()}
    erasures = queries.page_erasures(customer, target_id=target_id, page_size=PAGE_SIZE_MAX).rows
    return render(
        request,
        "target.html",
        target=steps[-1]["state"],
        erasure=erasures[-1] if erasures else None,  # the first that erased it
        outdial_name=outdial["name"] if outdial else "",
        steps=steps,
        timeline=lay_out(records, last.dials, clock(), decisions),
        dial_count=len(last.dials),
        closed=last.closed_destinations,
        decided=_decided(last, records),
        availability=judged,
        width=WIDTH,
        axis=AXIS,
        row_height=ROW,
    )


def _decided(target: Target, records: list[EventRecord]) -> list[tuple[str, int | None]]:
    """What the retry rules decided that still holds, as people read it, with the
    version of the finish that decided it: each closed destination, then the finish."""
    finished_at: dict[tuple[str, str], int] = {
        (str(r.data["dial_id"]), r.data["reason"]): r.version
        for r in records
        if r.type == "DialFinished"
    }

    def at(decision: Decision) -> int | None:
        return finished_at.get((str(decision.dial_id), decision.reason))

    said = [
        (f"destination {n} closed: {rule_words(target.closed[n])}", at(target.closed[n]))
        for n in sorted(target.closed, key=int)
    ]
    if target.finished_by is not None and not target.succeeded:  # as availability says it
        said.append((f"target finished: {rule_words(target.finished_by)}", at(target.finished_by)))
    return said


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
    ("actor", "Started by", "kid_… (an API key's id)"),
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
    named = queries.target_names(customer, [UUID(row["outdial_target_id"]) for row in found.rows])
    dials = []
    for row in found.rows:
        dial = presenters.dial_row(row)
        target = named.get(dial["outdial_target_id"])
        dial["target_label"] = _target_label(target, dial["outdial_target_id"])
        dial["outdial_label"] = "" if target is None else target["outdial_name"] or "(no name)"
        dials.append(dial)
    return render(
        request,
        "dials.html",
        dials=dials,
        next_page_token=found.next_page_token,
        next_query=urlencode({**given, "page_token": found.next_page_token}),
        **context,
    )


def _target_label(target: dict[str, Any] | None, target_id: str) -> str:
    """A target as a person tells it apart: its name, else the first of its destinations
    (ids of one import share their first characters)."""
    if target is None:
        return target_id
    if target["name"]:
        return str(target["name"])
    first = next((target[c] for c in DESTINATIONS if target[c] is not None), None)
    return "(no name)" if first is None else f"{first['target']} (no name)"


def duration_text_ms(ms: int) -> str:
    return duration_text(timedelta(milliseconds=ms))


# The do-not-call page's search: a number or an address, as the API's ?target= takes it.
EntryTargetText = Annotated[PlainText, Field(max_length=ADDRESS_FIELD_MAX)]


class DoNotCallForm(BaseModel):
    """The do-not-call page's filters, as its form sends them (empty fields unset)."""

    target: Annotated[EntryTargetText | None, Blank] = None
    entry: Annotated[UUID | None, Blank] = None
    include_deleted: bool = False
    page_token: str = ""


@router.get("/do_not_call")
def do_not_call_page(
    request: Request, customer: PageCustomer, queries: Queries, clock: Now
) -> HTMLResponse:
    """The customer's do-not-call list, newest first; with a number, the entries that
    block it now; with an entry's id (a target page links them), that entry."""
    asked = {name: request.query_params.get(name, "") for name in DoNotCallForm.model_fields}
    asked["include_deleted"] = asked["include_deleted"] or "false"
    context: dict[str, Any] = {"target": asked["target"], "include_deleted": False}
    try:
        form = DoNotCallForm.model_validate(asked)
    except ValidationError as refused:
        first = refused.errors()[0]
        problem = f"{first['loc'][0]}: {first['msg']}"
        return render(request, "do_not_call.html", 400, problem=problem, entries=[], **context)
    if form.entry is not None:
        row = queries.get_do_not_call(customer, form.entry)
        entries = [] if row is None else [row]
        return render(request, "do_not_call.html", problem="", entries=entries, **context)
    found = queries.page_do_not_call(
        customer,
        target=form.target,
        include_deleted=form.include_deleted,
        now=clock(),
        page_size=PAGE_SIZE,
        page_token=form.page_token,
    )
    given = {k: v for k, v in asked.items() if v and v != "false" and k != "page_token"}
    return render(
        request,
        "do_not_call.html",
        problem="",
        entries=found.rows,
        next_page_token=found.next_page_token,
        next_query=urlencode({**given, "page_token": found.next_page_token}),
        **{**context, "include_deleted": form.include_deleted},
    )
