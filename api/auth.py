"""The API key dependency (SPEC §7): every /v1.0 call acts for the key's customer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Unauthenticated
from api.runtime import Rt

bearer = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="`Authorization: Bearer KEY`"
)
token_query = APIKeyQuery(
    name="token", auto_error=False, scheme_name="token", description="`?token=KEY`"
)
accesskey_query = APIKeyQuery(
    name="accesskey", auto_error=False, scheme_name="accesskey", description="`?accesskey=KEY`"
)


def customer_of_key(
    rt: Rt,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    token: Annotated[str | None, Depends(token_query)],
    accesskey: Annotated[str | None, Depends(accesskey_query)],
) -> UUID:
    key = credentials.credentials if credentials else token or accesskey
    if not key:
        raise Unauthenticated(
            "MISSING_API_KEY", "send an API key: Authorization: Bearer KEY, ?token= or ?accesskey="
        )
    customer = rt.keys.customer_of(key)
    if customer is None:
        raise Unauthenticated("INVALID_API_KEY", "the API key is not valid")
    return customer


Customer = Annotated[UUID, Depends(customer_of_key)]
