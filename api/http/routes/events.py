"""The event feed: a customer's events after a position, read a page at a time or
followed live as Server-Sent Events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse, ServerSentEvent

from api import presenters
from api.http.dependencies import Customer
from api.http.errors import error_responses
from api.http.responses import WireResponse
from api.schemas.common import WholeNumber
from api.schemas.feed import FeedPageOut
from api.serving import FeedDep, FollowerDep
from application.feed import EVENT_TYPES, LIMIT_MAX, Feed, FeedEvent, FeedFilter, FeedFollower
from domain.errors import InvalidValue

router = APIRouter(
    prefix="/v1.0/events", tags=["events"], responses=error_responses(400, 401, 429, 500, 503)
)

# A stream sends a comment at least this often, and a checkpoint after this long without
# an event while the log moved on.
KEEP_ALIVE_S = 15.0
# Stored events a stream sends per read before it looks again.
CATCH_UP_PAGE = 500
# Pages of new events a stream may have waiting; a reader that far behind is ended, and
# resumes from its Last-Event-ID.
WAITING_MAX = 1_000

# A position is the store's notification id: a 64-bit integer on either store.
POSITION_MAX = 2**63 - 1
Position = Annotated[
    int,
    WholeNumber,
    Query(ge=0, le=POSITION_MAX, description="A position: events after it."),
]


def parse_types(text: str) -> frozenset[str] | None:
    names = frozenset(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(names - EVENT_TYPES)
    if unknown:
        raise InvalidValue(
            "types", f"{unknown[0]!r} is not an event type; one of {', '.join(sorted(EVENT_TYPES))}"
        )
    return names or None


async def feed_filter(
    customer: Customer,
    outdial_id: Annotated[UUID | None, Query(description="Only this outdial's events.")] = None,
    target_id: Annotated[UUID | None, Query(description="Only this target's events.")] = None,
    types: Annotated[
        str, Query(description="Comma separated event types, such as Target.DialFinished.")
    ] = "",
) -> FeedFilter:
    return FeedFilter(
        customer, outdial_id=outdial_id, target_id=target_id, types=parse_types(types)
    )


Filter = Annotated[FeedFilter, Depends(feed_filter)]


@router.get("", response_model=FeedPageOut)
def read_events(
    chosen: Filter,
    feed: FeedDep,
    after: Position = 0,
    limit: Annotated[
        int, WholeNumber, Query(ge=1, le=LIMIT_MAX, description=f"1..{LIMIT_MAX}")
    ] = 100,
) -> WireResponse:
    """The customer's events after a position, oldest first; `next_after` is where the
    next read starts."""
    return WireResponse(presenters.feed_page(feed.read(chosen, after, limit=limit)))


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream_events(
    chosen: Filter,
    feed: FeedDep,
    follower: FollowerDep,
    after: Position = 0,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this position (a reconnecting reader).")
    ] = None,
) -> EventSourceResponse:
    """The customer's events as Server-Sent Events: the stored ones after `Last-Event-ID`
    (else `after`), then each new one as it is recorded; a comment every 15 s, and a
    `checkpoint` when the log moved on without an event for this reader."""
    if last_event_id is not None:
        digits = last_event_id.strip()
        whole = digits.isascii() and digits.isdigit() and len(digits) <= len(str(POSITION_MAX))
        if not (whole and int(digits) <= POSITION_MAX):
            raise InvalidValue("Last-Event-ID", "must be a position, such as 120")
        after = int(digits)
    return EventSourceResponse(
        _follow(feed, follower, chosen, after),
        ping=KEEP_ALIVE_S,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _sent(event: FeedEvent) -> ServerSentEvent:
    data = orjson.dumps(presenters.feed_event(event)).decode()
    return ServerSentEvent(data=data, event=event.type, id=str(event.position))


async def _follow(
    feed: Feed, follower: FeedFollower, chosen: FeedFilter, after: int
) -> AsyncIterator[ServerSentEvent]:
    loop = asyncio.get_running_loop()
    waiting: asyncio.Queue[tuple[list[FeedEvent], int]] = asyncio.Queue(WAITING_MAX)

    def tell(events: list[FeedEvent], reached: int) -> None:
        loop.call_soon_threadsafe(_put, waiting, (events, reached))

    unsubscribe = follower.subscribe(tell)
    try:
        examined = after  # every event up to here was sent, or is not this reader's
        while True:  # the stored events, up to where the follower began
            page = await run_in_threadpool(feed.read, chosen, examined, limit=CATCH_UP_PAGE)
            for event in page.events:
                yield _sent(event)
            if not page.events and page.next_after == examined:
                break
            examined = page.next_after
        told, quiet_since = examined, loop.time()
        while True:
            try:
                events, reached = await asyncio.wait_for(
                    waiting.get(), max(0.0, KEEP_ALIVE_S - (loop.time() - quiet_since))
                )
            except TimeoutError:
                if examined > told:
                    yield ServerSentEvent(
                        data=orjson.dumps({"position": examined}).decode(),
                        event="checkpoint",
                        id=str(examined),
                    )
                    told = examined
                quiet_since = loop.time()
                continue
            if reached < 0:
                return  # too far behind: the reader resumes from its Last-Event-ID
            for event in events:
                if event.position > examined and chosen.matches(event):
                    yield _sent(event)
                    told, quiet_since = event.position, loop.time()
            examined = max(examined, reached)
    finally:
        unsubscribe()


def _put(
    waiting: asyncio.Queue[tuple[list[FeedEvent], int]], told: tuple[list[FeedEvent], int]
) -> None:
    try:
        waiting.put_nowait(told)
    except asyncio.QueueFull:
        while not waiting.empty():
            waiting.get_nowait()
        waiting.put_nowait(([], -1))
