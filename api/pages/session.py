"""Who is looking at a page: the same API keys as /v1.0, carried by a cookie.

A page opened with ``?token=KEY`` checks the key, sets an HttpOnly, SameSite=Strict
session cookie holding it and redirects to the same URL without the token, so the key
leaves the address bar and the history. Without a valid key a page answers its sign-in
form. The cookie holds the key itself: a revoked key stops working at once, and there is
no second secret to keep or rotate.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode
from uuid import UUID

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from api.http.dependencies import Keys, customer_for
from api.http.errors import Throttled, Unauthenticated

SESSION_COOKIE = "outdial_session"
# The query parameters a key may come in, as on /v1.0.
KEY_PARAMETERS = ("token", "accesskey")


class SignInNeeded(Exception):
    """Answered with the sign-in form (401), or 429 while the address is throttled."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class SessionStarted(Exception):
    """A valid ``?token=``: answered with the cookie and a redirect without the token."""

    def __init__(self, key: str, location: str) -> None:
        super().__init__(location)
        self.key = key
        self.location = location


async def page_customer(request: Request, keys: Keys) -> UUID:
    given = next(
        (request.query_params[p] for p in KEY_PARAMETERS if p in request.query_params), None
    )
    key = given if given is not None else request.cookies.get(SESSION_COOKIE)
    if not key:  # a first visit is not a failed authentication
        raise SignInNeeded(401, "Sign in with an API key to see this page.")
    try:
        customer = await customer_for(request, keys, key)
    except Throttled as refused:
        raise SignInNeeded(429, refused.message, retry_after=refused.retry_after) from None
    except Unauthenticated:
        said = "That key is not valid." if given else "Your key is no longer valid."
        raise SignInNeeded(401, f"{said} Sign in with an API key.") from None
    if given is not None:
        raise SessionStarted(key, _without_key(request))
    return customer


PageCustomer = Annotated[UUID, Depends(page_customer)]


def _without_key(request: Request) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in KEY_PARAMETERS]
    url = request.url.path
    if kept:
        url += "?" + urlencode(kept)
    return url


def session_started(request: Request, started: SessionStarted) -> RedirectResponse:
    answer = RedirectResponse(started.location, status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        started.key,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return answer


def signed_out() -> RedirectResponse:
    answer = RedirectResponse("/ui/outdials", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
    return answer
