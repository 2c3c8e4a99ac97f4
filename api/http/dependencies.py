"""What the API's routes ask for beyond the services (api/serving.py): the caller's
customer and key, the wait that gives read-your-writes, and answering a creating request
once per ``Idempotency-Key``."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.security.utils import get_authorization_scheme_param
from starlette.responses import Response

from api.http.responses import WireResponse
from api.problems import Unavailable
from api.serving import customer_for, serving_of, store_unavailable
from application.errors import REFUSALS
from application.idempotency import Answered, IdempotencyKeys
from application.ids import NEW_IDS, IdSource
from application.written import Written
from domain.errors import InvalidValue
from projections.runner import LiveProjection, ReadModel, why_not_following

log = logging.getLogger(__name__)

T = TypeVar("T")
# What a refused write advises: try again after this many seconds.
RETRY_AFTER_S = 5


async def _projection(request: Request) -> LiveProjection | None:
    return serving_of(request).projection


Projection = Annotated[LiveProjection | None, Depends(_projection)]


# -- the caller's key ------------------------------------------------------------------

# The ways a caller sends its key, published as the description's security schemes
# (api/http/openapi.py). Read here rather than through FastAPI's security classes: each
# of those is a dependency of its own, solved again on every request (5-9 % of a POST's
# CPU, benchmarks/findings.py).
KEY_SCHEMES: dict[str, dict[str, str]] = {
    "bearer": {"type": "http", "description": "`Authorization: Bearer KEY`", "scheme": "bearer"},
    "token": {"type": "apiKey", "description": "`?token=KEY`", "in": "query", "name": "token"},
    "accesskey": {
        "type": "apiKey",
        "description": "`?accesskey=KEY`",
        "in": "query",
        "name": "accesskey",
    },
}


async def customer_of_key(request: Request) -> UUID:
    """Every /v1.0 call acts for the customer its key belongs to: the bearer token, else
    ``?token=``, else ``?accesskey=``."""
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    bearer = credentials if scheme.lower() == "bearer" else None
    query = request.query_params
    return await customer_for(request, bearer or query.get("token") or query.get("accesskey"))


Customer = Annotated[UUID, Depends(customer_of_key)]


async def actor_of_key(request: Request, _: Customer) -> str:
    """The id of the caller's key (``kid_...``): what its events record as their actor."""
    actor: str = request.state.actor
    return actor


Actor = Annotated[str, Depends(actor_of_key)]


# -- read-your-writes ------------------------------------------------------------------


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

    def __call__(self, written: Written[T], *, at_least: float = 0.0) -> T:
        """``written.value``, once the read model holds ``written.position`` (bounded by
        the setting, or ``at_least`` seconds when longer).

        The write is durable either way; when the wait times out the answer carries
        ``X-Read-Model: behind`` (added by the request guard), since a read may not show
        it yet."""
        timeout = max(self._timeout, at_least)
        if written.position is not None and self._projection is not None:
            self._projection.apply_until(written.position, timeout=timeout)
        if not self._read_model.wait_until_applied(written.position, timeout=timeout):
            log.warning("read model has not reached position %s; a read may lag", written.position)
            self._request.state.read_model_behind = True
        return written.value


async def writes_accepted(request: Request) -> None:
    """Refuse a write before anything is stored while the read model cannot follow (no
    projection active for more than 5 s, or the active one stuck): its answer could not
    be read back. A read model that is merely busy makes writes wait instead."""
    serving = serving_of(request)
    if not serving.services.events.reachable:
        raise store_unavailable()
    projection = serving.projection
    read_model = serving.services.read_model
    if (projection is not None and projection.active) or not read_model.status_is_stale():
        problem = why_not_following(read_model, projection, started_at=serving.started_at)
    else:  # the status is read from the store, at most once a second
        problem = await run_in_threadpool(
            why_not_following, read_model, projection, started_at=serving.started_at
        )
    if problem is not None:
        raise Unavailable(*problem, retry_after=RETRY_AFTER_S)


async def _wait(request: Request) -> ReadModelWait:
    await writes_accepted(request)  # called, not a dependency: one fewer to solve
    serving = serving_of(request)
    return ReadModelWait(
        serving.services.read_model,
        serving.projection,
        serving.settings.read_wait_seconds,
        request,
    )


WaitForReadModel = Annotated[ReadModelWait, Depends(_wait)]


# -- answering once per Idempotency-Key --------------------------------------------------

_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# What a refused request raises: its body refused by the schema or its command by the use case.
_REFUSED: tuple[type[Exception], ...] = (*REFUSALS, RequestValidationError)
REPLAYED = "Idempotent-Replayed"


class AnsweredBefore(Exception):
    """A repeat of a request already answered: its first answer is given again."""

    def __init__(self, answered: Answered) -> None:
        super().__init__("answered before")
        self.answered = answered

    def response(self) -> Response:
        return Response(
            self.answered.body,
            status_code=self.answered.status,
            media_type="application/json",
            headers={REPLAYED: "true"},
        )


@dataclass(frozen=True)
class Once:
    """A creating request's ids, and where its answer is kept for repeats."""

    ids: IdSource
    _claims: IdempotencyKeys | None = None
    _customer: UUID | None = None
    _key: str = ""

    def answer(self, response: WireResponse) -> WireResponse:
        """``response``, kept as the answer every repeat of this request gets."""
        if self._claims is not None and self._customer is not None:
            self._claims.answer(
                self._customer, self._key, response.status_code, bytes(response.body)
            )
        return response


async def _once(
    request: Request,
    customer: Customer,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="1..255 visible ASCII characters: a repeat of this request by the "
            "same customer within 24 h answers what the first answered and creates nothing "
            "new; the same key with a different request is 409 IDEMPOTENCY_KEY_REUSED.",
        ),
    ] = None,
) -> AsyncIterator[Once]:
    """Claims the request's key before the command runs. A request refused (its body by
    the schema, or the command by the domain) created nothing, so its key is released for
    a corrected repeat; any other
    failure keeps the claim: the command may have committed, and a repeat after the
    take-over delay runs it again with the same ids, finding what it made."""
    if idempotency_key is None:
        yield Once(NEW_IDS)
        return
    if not _KEY.fullmatch(idempotency_key):
        raise InvalidValue("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
    body = await request.body()  # already read for the body's model: no second read
    request_line = f"{request.method} {request.url.path}\n".encode()
    fingerprint = hashlib.sha256(request_line + body).hexdigest()
    claims = serving_of(request).services.idempotency
    claimed = await run_in_threadpool(claims.claim, customer, idempotency_key, fingerprint)
    if isinstance(claimed, Answered):
        raise AnsweredBefore(claimed)
    try:
        yield Once(claimed.ids, claims, customer, idempotency_key)
    except _REFUSED:
        # The body refused (by its schema or by the use case): nothing was created.
        await run_in_threadpool(claims.release, customer, idempotency_key)
        raise


AnswerOnce = Annotated[Once, Depends(_once)]
