"""``Idempotency-Key`` on the creating POSTs: a repeat of a request answers what the
first answered and records nothing new (application/idempotency.py keeps the keys)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request
from fastapi.responses import Response

from api.http.dependencies import Idempotency
from api.http.responses import WireResponse
from application.idempotency import Answered, Claimed, IdempotencyKeys
from domain.errors import DomainError, InvalidValue

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
REPLAYED = "Idempotent-Replayed"


@dataclass(frozen=True)
class Retry:
    """The caller's key for this request, and what identifies the request."""

    key: str
    fingerprint: str
    keys: IdempotencyKeys


async def _retry(
    request: Request,
    keys: Idempotency,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="1..255 visible ASCII characters: a repeat of this request by the "
            "same customer within 24 h answers what the first answered and creates nothing "
            "new; the same key with a different request is 409 IDEMPOTENCY_KEY_REUSED.",
        ),
    ] = None,
) -> Retry | None:
    if idempotency_key is None:
        return None
    if not _KEY.match(idempotency_key):
        raise InvalidValue("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
    body = await request.body()  # already read for the body's model: no second read
    request_line = f"{request.method} {request.url.path}\n".encode()
    fingerprint = hashlib.sha256(request_line + body).hexdigest()
    return Retry(idempotency_key, fingerprint, keys)


RetryKey = Annotated[Retry | None, Depends(_retry)]


def answer_once(
    retry: Retry | None, customer: UUID, run: Callable[[Claimed | None], WireResponse]
) -> Response:
    """``run`` the command, once per key: a repeat gets the first answer again.

    A command refused (a 4xx of the domain) created nothing, so its key is released for
    a corrected repeat. Any other failure keeps the claim: the command may have
    committed, and a repeat after the take-over delay runs it again with the same ids.
    """
    if retry is None:
        return run(None)
    outcome = retry.keys.claim(customer, retry.key, retry.fingerprint)
    if isinstance(outcome, Answered):
        return Response(
            outcome.body,
            status_code=outcome.status,
            media_type="application/json",
            headers={REPLAYED: "true"},
        )
    try:
        response = run(outcome)
    except DomainError:
        retry.keys.release(customer, retry.key)
        raise
    retry.keys.answer(customer, retry.key, response.status_code, bytes(response.body))
    return response
