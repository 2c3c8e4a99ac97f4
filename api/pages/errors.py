"""Refusals on pages: the one mapping of errors (api/problems.py), rendered for people.

A refusal is a page with the same HTTP status and headers (Retry-After, Allow) as the API
would answer; a missing or refused key, or too many failed ones, answers the sign-in
form.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.types import Scope

from api.pages.session import PAGES, SESSION_COOKIE, has_session
from api.pages.templating import templates
from api.problems import Problem, problem_of

_HEADINGS = {
    400: "That request cannot be answered",
    403: "Refused",
    404: "Not found",
    405: "Not allowed",
    409: "Not now",
    429: "Too many attempts",
    503: "The service is unavailable",
}
# Shown with the sign-in form rather than as an error page.
_SIGN_IN = frozenset({401, 429})


def page_of_problem(
    scope: Scope,
    problem: Problem,
    *,
    signed_in: bool = False,
    action: str | None = None,
    heading: str | None = None,
) -> HTMLResponse:
    """The page of ``problem``: the sign-in form (opening ``action``, by default the page
    asked for) for a missing, refused or throttled key, else an error page."""
    request = Request(scope)
    if problem.http_status in _SIGN_IN:
        page = templates.TemplateResponse(
            request,
            "sign_in.html",
            {
                "message": problem.message,
                "status": problem.http_status,
                "action": action or request.url.path,
            },
            status_code=problem.http_status,
        )
        if getattr(request.state, "forget_session", False) and SESSION_COOKIE in request.cookies:
            page.delete_cookie(SESSION_COOKIE, path=PAGES, httponly=True, samesite="strict")
    else:
        state = scope.get("state") or {}
        page = templates.TemplateResponse(
            request,
            "error.html",
            {
                "signed_in": signed_in,
                "status": problem.http_status,
                "reason": problem.reason,
                "heading": heading or _HEADINGS.get(problem.http_status, "Something went wrong"),
                "message": problem.message,
                "request_id": state.get("request_id", ""),
            },
            status_code=problem.http_status,
        )
    for name in ("Retry-After", "Allow"):
        if name in problem.headers:
            page.headers[name] = problem.headers[name]
    return page


async def render(request: Request, error: Exception) -> HTMLResponse:
    problem = problem_of(
        error,
        path=request.url.path,
        method=request.method,
        route=getattr(request.scope.get("route"), "path", ""),
    )
    signed_in = problem.http_status not in _SIGN_IN and await has_session(request)
    return page_of_problem(request.scope, problem, signed_in=signed_in)


def install_page_errors(app: FastAPI, refused: tuple[type[Exception], ...]) -> None:
    for kind in refused:
        app.add_exception_handler(kind, render)
