"""The error envelope, and every exception mapped to it once, here.

Every refusal is ``{"error": {"status", "reason", "message", "request_id"}}`` with the
HTTP status its ``status`` names; validation failures are 400 (never 422) and name the
field, so the caller knows what to send instead.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Scope

from api.http.routing import route_table
from api.http.schemas.common import ErrorBody, ErrorResponse, FieldProblem
from application.errors import ConcurrentChange, NotFound
from domain.errors import DialNotFound, DomainError, InvalidValue

log = logging.getLogger(__name__)

# Errors of a store that is busy, locked or down, from the library or the drivers.
STORE_UNREACHABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
)

BODY_MAX_BYTES = 1024 * 1024
SEND_JSON = 'send a JSON object, such as {"name": "spring campaign"}'
TOO_LARGE = f"the body is over {BODY_MAX_BYTES} bytes"

_STATUS_OF_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    409: "FAILED_PRECONDITION",
    413: "PAYLOAD_TOO_LARGE",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

_DESCRIPTION_OF_HTTP = {
    400: "INVALID_ARGUMENT: a parameter or the body breaks the rules; the message names it.",
    401: "UNAUTHENTICATED: no valid API key.",
    404: "NOT_FOUND: no such resource for this customer.",
    409: "FAILED_PRECONDITION (the state forbids it) or ABORTED (a concurrent change won; "
    "safe to retry).",
    413: "PAYLOAD_TOO_LARGE: the body is over 1 MiB.",
    429: "RESOURCE_EXHAUSTED: too many requests without a valid key from this address; "
    "see Retry-After.",
    500: "INTERNAL: an unexpected error; quote the request_id.",
    503: "UNAVAILABLE: a store is unreachable, or (writes) no projection follows the events "
    "now; see Retry-After when given.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error envelope under the given HTTP statuses."""
    return {
        code: {"model": ErrorResponse, "description": _DESCRIPTION_OF_HTTP[code]} for code in codes
    }


class Unauthenticated(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Throttled(Exception):
    """Too many failed authentications from one client address (api/http/throttle.py)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Unavailable(Exception):
    def __init__(self, reason: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail=TOO_LARGE)


def request_id_of(scope: Scope) -> str:
    state = scope.get("state") or {}
    return str(state.get("request_id", ""))


def envelope(
    scope: Scope,
    http_status: int,
    reason: str,
    message: str,
    *,
    status: str | None = None,
    details: Sequence[FieldProblem] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(
            status=status or _STATUS_OF_HTTP[http_status],  # type: ignore[arg-type]
            reason=reason,
            message=message,
            request_id=request_id_of(scope),
            details=list(details) or None,
        )
    )
    return JSONResponse(body.model_dump(exclude_none=True), http_status, headers=headers)


def domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    if isinstance(error, InvalidValue):
        problem = FieldProblem(field=error.field, message=error.problem)
        return envelope(request.scope, 400, error.reason, error.message, details=[problem])
    if isinstance(error, NotFound | DialNotFound):
        return envelope(request.scope, 404, error.reason, error.message)
    if isinstance(error, ConcurrentChange):
        return envelope(request.scope, 409, error.reason, error.message, status="ABORTED")
    return envelope(request.scope, 409, error.reason, error.message)


def validation_error(request: Request, error: Exception) -> JSONResponse:
    """Pydantic's refusals as 400 naming the field (never 422)."""
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    if first.get("type") == "json_invalid":
        where = f"{first.get('ctx', {}).get('error', 'invalid')} at character {first['loc'][-1]}"
        problem = FieldProblem(field="body", message=where)
        message = f"the body is not valid JSON: {where}; {SEND_JSON}"
        return envelope(request.scope, 400, "INVALID_JSON_BODY", message, details=[problem])
    problems = [_problem(e) for e in error.errors()] or [
        FieldProblem(field="body", message="is invalid")
    ]
    if first.get("type") == "uuid_parsing" and first["loc"][0] in ("path", "query"):
        named = route_table(request).routes(request.url.path)
        if named and getattr(request.scope.get("route"), "path", "") not in named:
            # /targets/batch names the batch resource, not a malformed target id.
            return _method_not_allowed(request)
        return envelope(
            request.scope,
            400,
            "INVALID_ID",
            f"{problems[0].field}: is not a UUID",
            details=problems,
        )
    message = f"{problems[0].field}: {problems[0].message}"
    return envelope(request.scope, 400, "INVALID_ARGUMENT", message, details=problems)


def _problem(error: Any) -> FieldProblem:
    """Pydantic's ``loc`` as the caller wrote the field: ``targets[3].destination_2.target``."""
    loc = list(error.get("loc", ()))
    where = loc[1:] if len(loc) > 1 else loc
    field = ""
    for part in where:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    message = str(error.get("msg", "is invalid"))
    if error.get("type") == "extra_forbidden":
        message = "is not a field of this body"
    return FieldProblem(field=field or "body", message=message)


def http_error(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own refusals: unknown route, wrong method, unreadable body."""
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    code = error.status_code
    if code == 404:
        path = request.url.path
        return envelope(request.scope, 404, "ROUTE_NOT_FOUND", f"no route {path}", headers=headers)
    if code == 405:
        return _method_not_allowed(request)
    if code == 413:
        return envelope(request.scope, 413, "PAYLOAD_TOO_LARGE", TOO_LARGE)
    if code == 400:
        # FastAPI's only own 400: a body it could not read as JSON (e.g. not UTF-8).
        message = f"the body is not valid JSON; {SEND_JSON}"
        return envelope(request.scope, 400, "INVALID_JSON_BODY", message)
    status = _STATUS_OF_HTTP.get(code, "INTERNAL" if code >= 500 else "INVALID_ARGUMENT")
    return envelope(request.scope, code, "HTTP_" + str(code), str(error.detail), status=status)


def _method_not_allowed(request: Request) -> JSONResponse:
    allow = ", ".join(sorted(route_table(request).methods(request.url.path)))
    message = f"{request.method} is not allowed on {request.url.path}"
    return envelope(request.scope, 405, "METHOD_NOT_ALLOWED", message, headers={"Allow": allow})


def unauthenticated(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Unauthenticated)
    headers = {"WWW-Authenticate": "Bearer"}
    return envelope(request.scope, 401, error.reason, error.message, headers=headers)


def throttled(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Throttled)
    headers = {"Retry-After": str(error.retry_after)}
    return envelope(
        request.scope, 429, "TOO_MANY_FAILED_AUTHENTICATIONS", error.message, headers=headers
    )


def unavailable(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Unavailable)
    headers = None if error.retry_after is None else {"Retry-After": str(error.retry_after)}
    return envelope(request.scope, 503, error.reason, error.message, headers=headers)


def store_unavailable(request: Request, error: Exception) -> JSONResponse:
    """A store that does not answer (busy, locked, down) is the server's state, not a bug."""
    log.warning("store unavailable: %s", error)
    message = "a store did not answer in time; retry shortly"
    return envelope(request.scope, 503, "STORE_UNAVAILABLE", message)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Unauthenticated, unauthenticated)
    app.add_exception_handler(Throttled, throttled)
    app.add_exception_handler(Unavailable, unavailable)
    for unreachable in STORE_UNREACHABLE:
        app.add_exception_handler(unreachable, store_unavailable)
