"""The customer's webhook: where the feed's events are POSTed, and the log of attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.concurrency import run_in_threadpool

from api import presenters
from api.http.dependencies import Customer
from api.http.errors import error_responses
from api.http.responses import WireResponse
from api.http.routes.events import parse_types
from api.schemas.common import WholeNumber
from api.schemas.feed import DeliveriesOut, WebhookIn, WebhookOut
from api.serving import Now, WebhooksDep

router = APIRouter(
    prefix="/v1.0/webhook",
    tags=["events"],
    responses=error_responses(400, 401, 404, 429, 500, 503),
)


@router.put("", response_model=WebhookOut)
async def put_webhook(
    body: Annotated[WebhookIn, Body()], customer: Customer, webhooks: WebhooksDep, clock: Now
) -> WireResponse:
    """Make the webhook (a new secret; told what happens from now on), or change its
    `url`, `types` and `outdial_id`, keeping its secret and position."""
    types = parse_types(",".join(body.types or ()))
    made = await run_in_threadpool(webhooks.put, customer, body.url, types, body.outdial_id)
    return WireResponse(presenters.webhook(made, now=clock().timestamp(), secret=True))


@router.get("", response_model=WebhookOut)
def get_webhook(customer: Customer, webhooks: WebhooksDep, clock: Now) -> WireResponse:
    return WireResponse(presenters.webhook(webhooks.get(customer), now=clock().timestamp()))


@router.delete("", response_model=WebhookOut)
def delete_webhook(customer: Customer, webhooks: WebhooksDep, clock: Now) -> WireResponse:
    """Stop delivering; a later PUT makes a new webhook with a new secret."""
    return WireResponse(presenters.webhook(webhooks.delete(customer), now=clock().timestamp()))


@router.get("/deliveries", response_model=DeliveriesOut)
def deliveries(
    customer: Customer,
    webhooks: WebhooksDep,
    limit: Annotated[int, WholeNumber, Query(ge=1, le=1000, description="1..1000")] = 100,
) -> WireResponse:
    """Recent delivery attempts, newest first (kept for 7 days)."""
    return WireResponse(
        presenters.results(presenters.delivery(d) for d in webhooks.deliveries(customer, limit))
    )
