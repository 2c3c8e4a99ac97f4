"""The error envelope (SPEC §2), and every exception mapped to it once, here.

``RequestGuard`` wraps every request: it gives it a request id (the caller's
``X-Request-ID`` or a new one) that every response carries, refuses bodies over
1 MiB, and turns anything unexpected into a 500 envelope without a stack trace.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.models import ErrorBody, ErrorResponse, FieldProblem
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
# A caller's request id is echoed when it is short visible ASCII, so it is safe in logs.
_REQUEST_ID_OK = re.compile(r"^[\x21-\x7e]{1,200}$")
_TOO_LARGE = f"the body is over {BODY_MAX_BYTES} bytes"

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
    500: "INTERNAL: an unexpected error; quote the request_id.",
    503: "UNAVAILABLE: a store is unreachable or the read model lags too far behind.",
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


class Unavailable(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail=_TOO_LARGE)


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
        message = f"the body is not valid JSON: {where}"
        return envelope(request.scope, 400, "INVALID_JSON_BODY", message, details=[problem])
    problems = [_problem(e) for e in error.errors()] or [
        FieldProblem(field="body", message="is invalid")
    ]
    if first.get("type") == "uuid_parsing" and first["loc"][0] in ("path", "query"):
        named = _route_table(request).routes(request.url.path)
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
        return envelope(request.scope, 413, "PAYLOAD_TOO_LARGE", _TOO_LARGE)
    if code == 400:
        # FastAPI's only own 400: a body it could not read as JSON (e.g. not UTF-8).
        return envelope(request.scope, 400, "INVALID_JSON_BODY", "the body is not valid JSON")
    status = _STATUS_OF_HTTP.get(code, "INTERNAL" if code >= 500 else "INVALID_ARGUMENT")
    return envelope(request.scope, code, "HTTP_" + str(code), str(error.detail), status=status)


def _method_not_allowed(request: Request) -> JSONResponse:
    allow = ", ".join(sorted(_route_table(request).methods(request.url.path)))
    message = f"{request.method} is not allowed on {request.url.path}"
    return envelope(request.scope, 405, "METHOD_NOT_ALLOWED", message, headers={"Allow": allow})


def unauthenticated(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Unauthenticated)
    headers = {"WWW-Authenticate": "Bearer"}
    return envelope(request.scope, 401, error.reason, error.message, headers=headers)


def unavailable(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Unavailable)
    return envelope(request.scope, 503, error.reason, error.message)


def store_unavailable(request: Request, error: Exception) -> JSONResponse:
    """A store that does not answer (busy, locked, down) is the server's state, not a bug."""
    log.warning("store unavailable: %s", error)
    message = "a store did not answer in time; retry shortly"
    return envelope(request.scope, 503, "STORE_UNAVAILABLE", message)


class RouteTable:
    """Which routes a path names, for the Allow header of a 405.

    Starlette names only the methods of the first route it matched, where a path such as
    /v1.0/outdials has several. Literal segments win over parameters, as in routing:
    .../targets/batch is the batch resource, not a target whose id is "batch".
    """

    def __init__(self, routers: Sequence[APIRouter]) -> None:
        self._routes = [
            (compile_path(route.path)[0], route.path, frozenset(route.methods or ()))
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute)
        ]

    def routes(self, path: str) -> dict[str, frozenset[str]]:
        """The most literal route templates matching ``path``, with their methods."""
        found = [(t, m) for pattern, t, m in self._routes if pattern.match(path)]
        fewest = min((t.count("{") for t, _ in found), default=0)
        named: dict[str, frozenset[str]] = {}
        for template, methods in found:
            if template.count("{") == fewest:
                named[template] = named.get(template, frozenset()) | methods
        return named

    def methods(self, path: str) -> set[str]:
        return set().union(*self.routes(path).values())


def _route_table(request: Request) -> RouteTable:
    table: RouteTable = request.app.state.route_table
    return table


def install(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    app.state.route_table = RouteTable(routers)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Unauthenticated, unauthenticated)
    app.add_exception_handler(Unavailable, unavailable)
    for unreachable in STORE_UNREACHABLE:
        app.add_exception_handler(unreachable, store_unavailable)
    app.add_middleware(RequestGuard)
    _document_no_422(app)


def _document_no_422(app: FastAPI) -> None:
    """FastAPI documents a 422 on every operation with parameters; here they are 400s."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        document = generate()
        if first:
            for operations in document["paths"].values():
                for operation in operations.values():
                    operation["responses"].pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                document.get("components", {}).get("schemas", {}).pop(name, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


class RequestGuard:
    """Request id, body size limit, and the last line against unexpected errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        if _declared_length(scope) > BODY_MAX_BYTES:
            too_large = envelope(scope, 413, "PAYLOAD_TOO_LARGE", _TOO_LARGE)
            await too_large(scope, receive, send_with_id)
            return
        received = 0

        async def receive_limited() -> Message:
            # A body without (or lying about) Content-Length is counted as it streams in.
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > BODY_MAX_BYTES:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, receive_limited, send_with_id)
        except Exception:
            log.exception("unexpected error in request %s", request_id)
            if started:
                raise
            response = envelope(
                scope, 500, "INTERNAL", f"an unexpected error; quote request_id {request_id}"
            )
            await response(scope, receive, send_with_id)


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            text: str = value.decode("latin-1")
            if _REQUEST_ID_OK.match(text):
                return text
    return f"req_{uuid4().hex}"


def _declared_length(scope: Scope) -> int:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
