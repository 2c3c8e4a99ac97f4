"""Refusals on pages: the API's one mapping of errors, rendered for people.

Every exception handler of the app answers the JSON envelope; on /ui the envelope's
status and message are shown on an error page instead, with the same HTTP status and
headers (Retry-After), and a missing or invalid key answers the sign-in form. A key in
the address signs in (a redirect with the cookie), or asks first when another site sent
the browser there.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import WebSocketRequestValidationError
from fastapi.responses import Response

from api.pages.routes import templates
from api.pages.session import (
    SESSION_COOKIE,
    SessionStarted,
    SignInAsked,
    SignInNeeded,
    has_session,
    session_started,
)

PAGES = "/ui"
Handler = Callable[[Request, Exception], Response | Awaitable[Response]]

_HEADINGS = {
    400: "That request cannot be answered",
    403: "Refused",
    404: "Not found",
    405: "Not allowed",
    409: "Not now",
    429: "Too many attempts",
    503: "The service is unavailable",
}


def sign_in(request: Request, needed: Exception) -> Response:
    assert isinstance(needed, SignInNeeded)
    answer = templates.TemplateResponse(
        request,
        "sign_in.html",
        {
            "message": needed.message,
            "status": needed.status,
            "action": needed.action or request.url.path,
        },
        status_code=needed.status,
    )
    if needed.retry_after is not None:
        answer.headers["Retry-After"] = str(needed.retry_after)
    if needed.forget and SESSION_COOKIE in request.cookies:  # a revoked key's is of no use
        answer.delete_cookie(SESSION_COOKIE, path=PAGES, httponly=True, samesite="strict")
    return answer


def sign_in_asked(request: Request, asked: Exception) -> Response:
    assert isinstance(asked, SignInAsked)
    return templates.TemplateResponse(
        request,
        "sign_in_asked.html",
        {
            "signed_in": asked.signed_in,
            "key": asked.key,
            "key_id": asked.key_id,
            "next": asked.location,
        },
    )


def _session_started(request: Request, started: Exception) -> Response:
    assert isinstance(started, SessionStarted)
    return session_started(request, started.key, started.location)


def _for_people(handler: Handler) -> Handler:
    async def handle(request: Request, error: Exception) -> Response:
        answer = handler(request, error)
        if not isinstance(answer, Response):
            answer = await answer
        if not request.url.path.startswith(PAGES):
            return answer
        body: dict[str, Any] = json.loads(bytes(answer.body)).get("error", {})
        status = answer.status_code
        page = templates.TemplateResponse(
            request,
            "error.html",
            {
                "signed_in": status != 401 and await has_session(request),
                "status": status,
                "reason": body.get("reason", ""),
                "heading": _HEADINGS.get(status, "Something went wrong"),
                "message": body.get("message", ""),
                "request_id": body.get("request_id", ""),
            },
            status_code=status,
        )
        for name in ("retry-after", "allow"):
            if name in answer.headers:
                page.headers[name] = answer.headers[name]
        return page

    return handle


def install_page_errors(app: FastAPI) -> None:
    """After the API's handlers: wrap each, and add the pages' own three."""
    for kind, handler in list(app.exception_handlers.items()):
        if kind is WebSocketRequestValidationError:
            continue  # no page is a websocket
        app.add_exception_handler(kind, _for_people(handler))
    app.add_exception_handler(SignInNeeded, sign_in)
    app.add_exception_handler(SignInAsked, sign_in_asked)
    app.add_exception_handler(SessionStarted, _session_started)
