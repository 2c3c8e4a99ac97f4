"""The pages for people, an app of their own mounted at /ui: their routes, their refusals
rendered as HTML, and signing in by a key in the address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from starlette.responses import Response

from api.pages import routes
from api.pages.errors import install_page_errors, page_of_problem
from api.pages.session import (
    PAGES,
    from_another_site,
    has_session,
    key_in_address,
    session_started,
    signing_in,
    without_key,
)
from api.pages.templating import templates
from api.problems import REFUSED, problem_of
from api.serving import Serving

__all__ = ["PAGES", "create_pages", "page_of_problem"]


def create_pages(serving: Serving) -> FastAPI:
    pages = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    pages.state.serving = serving
    pages.include_router(routes.router)
    install_page_errors(pages, REFUSED)
    pages.middleware("http")(sign_in_by_address)
    return pages


async def sign_in_by_address(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """A page opened with ``?token=KEY`` (or ``?accesskey=``): a valid key sets the session
    cookie and leaves the address (a redirect without it); from another site, a page
    asks first, setting nothing; a wrong key answers the sign-in form."""
    key = key_in_address(request)
    if key is None:
        return await call_next(request)
    try:
        await signing_in(request, key)
    except REFUSED as refused:
        problem = problem_of(refused, path=request.url.path, method=request.method)
        return page_of_problem(request.scope, problem)
    location = without_key(request)
    if from_another_site(request):
        return templates.TemplateResponse(
            request,
            "sign_in_asked.html",
            {
                "signed_in": await has_session(request),
                "key": key,
                "key_id": request.state.actor,  # the id of the key signing_in accepted
                "next": location,
            },
        )
    return session_started(request, key, location)
