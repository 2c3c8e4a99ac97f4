"""Who is looking at a page: the same API keys as /v1.0, carried by a cookie.

A page opened with ``?token=KEY`` checks the key, sets an HttpOnly, SameSite=Strict
session cookie holding it and redirects to the same URL without the token, so the key
leaves the address bar and the history. Without a valid key a page answers its sign-in
form. The cookie holds the key itself: a revoked key stops working at once, and there is
no second secret to keep or rotate.

Only a navigation the browser says did not come from another site signs in that way
(``Sec-Fetch-Site`` absent, ``none`` or ``same-origin``). From another site, a page with
a key in its address would swap the person's session for the sender's account, so it
asks first: the person's click POSTs the sign-in from this origin (``/ui/sign-in``).
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit
from uuid import UUID

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api.problems import Unauthenticated
from api.serving import customer_for, serving_of

SESSION_COOKIE = "outdial_session"
PAGES = "/ui"
# The query parameters a key may come in, as on /v1.0.
KEY_PARAMETERS = ("token", "accesskey")
# Where a sign-in lands when it was not told where, or was told somewhere not a page.
HOME = "/ui/outdials"
# What the browser says of a request made by another site's page (or a link on it).
_OTHER_SITES = frozenset({"cross-site", "same-site"})
# A page of ours: /ui or a path below it, then perhaps a query; nothing else.
_PAGE = re.compile(r"/ui(?:/[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*)?(?:\?[\x21-\x7e]*)?")


async def page_customer(request: Request) -> UUID:
    """The customer of the session's key; Unauthenticated (the sign-in form) without one.
    A first visit with no key is not a failed authentication, so it is not counted."""
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        raise Unauthenticated("MISSING_API_KEY", "Sign in with an API key to see this page.")
    try:
        customer = await customer_for(request, key)
    except Unauthenticated:
        request.state.forget_session = True  # a revoked key's cookie is of no more use
        raise Unauthenticated(
            "INVALID_API_KEY", "Your key is no longer valid. Sign in with an API key."
        ) from None
    request.state.session = True  # an error page later on this request may say so
    return customer


PageCustomer = Annotated[UUID, Depends(page_customer)]


async def signing_in(request: Request, key: str) -> UUID:
    """The customer of a key given in a link or a form; a wrong one ends no session
    (another site could send one), and counts towards the throttle."""
    try:
        return await customer_for(request, key)
    except Unauthenticated:
        raise Unauthenticated(
            "INVALID_API_KEY", "That key is not valid. Sign in with an API key."
        ) from None


def key_in_address(request: Request) -> str | None:
    return next(
        (request.query_params[p] for p in KEY_PARAMETERS if p in request.query_params), None
    )


def from_another_site(request: Request) -> bool:
    """Whether the browser says another site's page made this request. Browsers that do
    not say are taken at their word, as before the header existed."""
    return request.headers.get("sec-fetch-site", "").lower() in _OTHER_SITES


def from_this_origin(request: Request) -> bool:
    """Whether a POST may be taken as the person's own on this service's page: the browser
    says it came from no other site, and its ``Origin``, when sent, is this server's host.
    The scheme is not compared: behind a proxy that ends TLS the service sees http."""
    if from_another_site(request):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    told = urlsplit(origin)
    return told.scheme in ("http", "https") and told.netloc.lower() == request.url.netloc.lower()


async def has_session(request: Request) -> bool:
    """Whether the request carries a session cookie whose key is valid: what decides the
    "Sign out" of pages that did not check the session themselves (an unknown path)."""
    if getattr(request.state, "session", False):
        return True
    key = request.cookies.get(SESSION_COOKIE)
    if not key:
        return False
    services = serving_of(request).services
    known, customer = services.keys.remembered(key)
    if not known:
        if not services.events.reachable:  # the key store is that server too
            return False
        try:
            customer = await run_in_threadpool(services.keys.customer_of, key)
        except Exception:  # a page about another failure must not fail on this one
            return False
    return customer is not None


def page_to_go_to(asked: str) -> str:
    """``asked`` when it is a page of this service, without any key in its query;
    otherwise the home page. Never another site, nor a path outside /ui."""
    if not _PAGE.fullmatch(asked):
        return HOME
    path, _, query = asked.partition("?")
    if any(part in (".", "..") for part in unquote(path).split("/")):
        return HOME
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in KEY_PARAMETERS]
    return path + ("?" + urlencode(kept) if kept else "")


def without_key(request: Request) -> str:
    """The address of the request without the key in its query."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in KEY_PARAMETERS]
    url = quote(request.url.path)
    if kept:
        url += "?" + urlencode(kept)
    return url


def session_started(request: Request, key: str, location: str) -> RedirectResponse:
    answer = RedirectResponse(location, status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        key,
        path=PAGES,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return answer


def signed_out() -> RedirectResponse:
    answer = RedirectResponse(HOME, status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path=PAGES, httponly=True, samesite="strict")
    return answer
