"""What route handlers ask for, each by name: the application, the read model's queries,
the keys, the clock, the caller's customer, and the wait that gives read-your-writes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeVar
from uuid import UUID

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from api.http.errors import Throttled, Unauthenticated, Unavailable
from api.http.throttle import client_address
from api.settings import Settings
from application.access import ApiKeys, key_hash, key_id
from application.idempotency import IdempotencyKeys
from application.service import OutdialService
from application.written import Written
from projections.queries import ReadModelQueries
from projections.runner import LiveProjection, ReadModel, why_not_following

if TYPE_CHECKING:
    from api.http.app import ServiceHost

log = logging.getLogger(__name__)

T = TypeVar("T")
# What a refused write advises: try again after this many seconds.
RETRY_AFTER_S = 5


def _host(request: Request) -> ServiceHost:
    host: ServiceHost = request.app.state.host
    return host


# Plain lookups: async, so FastAPI does not hand each to a worker thread.
async def _service(request: Request) -> OutdialService:
    return _host(request).services.service


async def _queries(request: Request) -> ReadModelQueries:
    return _host(request).services.read_model.queries


async def _read_model(request: Request) -> ReadModel:
    return _host(request).services.read_model


async def _projection(request: Request) -> LiveProjection | None:
    worker = _host(request).worker
    return None if worker is None else worker.projection


async def _keys(request: Request) -> ApiKeys:
    return _host(request).services.keys


async def _settings(request: Request) -> Settings:
    return _host(request).settings


async def _clock(request: Request) -> Callable[[], datetime]:
    return _host(request).services.service.clock


Service = Annotated[OutdialService, Depends(_service)]
Queries = Annotated[ReadModelQueries, Depends(_queries)]
ReadModelDep = Annotated[ReadModel, Depends(_read_model)]
Projection = Annotated[LiveProjection | None, Depends(_projection)]
Keys = Annotated[ApiKeys, Depends(_keys)]


async def _idempotency(request: Request) -> IdempotencyKeys:
    return _host(request).services.idempotency


Idempotency = Annotated[IdempotencyKeys, Depends(_idempotency)]
SettingsDep = Annotated[Settings, Depends(_settings)]
Clock = Annotated[Callable[[], datetime], Depends(_clock)]


class ReadModelWait:
    """Waits until the read model has applied a write, so the caller's next read sees it.

    With the projection in this process, the writer applies what is waiting itself (with
    whatever other writes arrived meanwhile) instead of waking it and waiting.
    """

    def __init__(
        self,
        read_model: ReadModel,
        projection: LiveProjection | None,
        timeout: float,
        request: Request,
    ) -> None:
        self._read_model = read_model
        self._projection = projection
        self._timeout = timeout
        self._request = request

    def __call__(self, written: Written[T]) -> T:
        """``written.value``, once the read model holds ``written.position`` (bounded).

        The write is durable either way; when the wait times out the answer carries
        ``X-Read-Model: behind`` (added by the request guard), since a read may not show
        it yet."""
        if written.position is not None and self._projection is not None:
            self._projection.apply_until(written.position, written.recorded, timeout=self._timeout)
        if not self._read_model.wait_until_applied(written.position, timeout=self._timeout):
            log.warning("read model has not reached position %s; a read may lag", written.position)
            self._request.state.read_model_behind = True
        return written.value


def _store_unreachable() -> Unavailable:
    return Unavailable(
        "STORE_UNAVAILABLE", "the database cannot be reached; retry shortly", retry_after=1
    )


async def writes_accepted(request: Request) -> None:
    """Refuse a write before anything is stored while the read model cannot follow (no
    projection active for more than 5 s, or the active one stuck): its answer could not
    be read back. A read model that is merely busy makes writes wait instead."""
    host = _host(request)
    if not host.services.events.reachable:
        raise _store_unreachable()
    projection = None if host.worker is None else host.worker.projection
    read_model = host.services.read_model
    if (projection is not None and projection.active) or not read_model.status_is_stale():
        problem = why_not_following(read_model, projection, started_at=host.started_at)
    else:  # the status is read from the store, at most once a second
        problem = await run_in_threadpool(
            why_not_following, read_model, projection, started_at=host.started_at
        )
    if problem is not None:
        raise Unavailable(*problem, retry_after=RETRY_AFTER_S)


async def _wait(request: Request, _: Annotated[None, Depends(writes_accepted)]) -> ReadModelWait:
    host = _host(request)
    projection = None if host.worker is None else host.worker.projection
    return ReadModelWait(
        host.services.read_model, projection, host.settings.read_wait_seconds, request
    )


WaitForReadModel = Annotated[ReadModelWait, Depends(_wait)]


# -- the caller's key ------------------------------------------------------------------

bearer = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="`Authorization: Bearer KEY`"
)
token_query = APIKeyQuery(
    name="token", auto_error=False, scheme_name="token", description="`?token=KEY`"
)
accesskey_query = APIKeyQuery(
    name="accesskey", auto_error=False, scheme_name="accesskey", description="`?accesskey=KEY`"
)


async def customer_of_key(
    request: Request,
    keys: Keys,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    token: Annotated[str | None, Depends(token_query)],
    accesskey: Annotated[str | None, Depends(accesskey_query)],
) -> UUID:
    """Every /v1.0 call acts for the customer its key belongs to."""
    key = credentials.credentials if credentials else token or accesskey
    return await customer_for(request, keys, key)


async def customer_for(request: Request, keys: ApiKeys, key: str | None) -> UUID:
    """The customer ``key`` belongs to, or Unauthenticated (Throttled after too many
    failures from the caller's address); what the pages' session checks too.

    A key looked up a moment ago is answered from memory, on the event loop; only a key
    the process has not seen lately costs a trip to the key store, in a worker thread.
    """
    customer: UUID | None = None
    if key:
        known, customer = keys.remembered(key)
        if not known:
            if not _host(request).services.events.reachable:
                # The key store is the same server: answer now rather than wait on it.
                raise _store_unreachable()
            customer = await run_in_threadpool(keys.customer_of, key)
    if key and customer is not None:
        request.state.actor = key_id(key_hash(key))  # who the events will say did it
        request.state.customer_id = str(customer)  # for the request's log line
        return customer  # a valid key is never throttled
    host = _host(request)
    address = client_address(request.scope, host.trusted_proxies)
    if not host.services.events.reachable:
        raise _store_unreachable()  # the count is in the store: no judging without it
    wait = await run_in_threadpool(host.failed_authentications.refuse_or_count, address)
    if wait is not None:
        raise Throttled(
            f"too many requests without a valid API key from {address}; retry in {wait} s",
            retry_after=wait,
        )
    if not key:
        raise Unauthenticated(
            "MISSING_API_KEY", "send an API key: Authorization: Bearer KEY, ?token= or ?accesskey="
        )
    raise Unauthenticated("INVALID_API_KEY", "the API key is not valid")


Customer = Annotated[UUID, Depends(customer_of_key)]


async def actor_of_key(request: Request, _: Customer) -> str:
    """The id of the caller's key (``kid_...``): what its events record as their actor."""
    actor: str = request.state.actor
    return actor


Actor = Annotated[str, Depends(actor_of_key)]
