"""The API's error envelope: every refusal is ``{"error": {"status", "reason", "message",
"request_id"}}`` with the HTTP status its ``status`` names; validation failures are 400
(never 422) and name the fields in ``details``. What each exception answers is decided
once, in api/problems.py; this module only renders it as JSON."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Scope

from api.http.routing import route_table
from api.problems import REFUSED, Problem, problem_of
from api.schemas.common import ErrorBody, ErrorResponse, FieldProblem

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


def request_id_of(scope: Scope) -> str:
    state = scope.get("state") or {}
    return str(state.get("request_id", ""))


def problem_response(scope: Scope, problem: Problem) -> JSONResponse:
    """The envelope of ``problem``, with its status and headers."""
    body = ErrorResponse(
        error=ErrorBody(
            status=problem.wire_status,  # type: ignore[arg-type]
            reason=problem.reason,
            message=problem.message,
            request_id=request_id_of(scope),
            details=[FieldProblem(field=f, message=m) for f, m in problem.details] or None,
        )
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), problem.http_status, headers=problem.headers or None
    )


def problem_of_request(request: Request, error: Exception) -> Problem:
    return problem_of(
        error,
        path=request.url.path,
        method=request.method,
        route=getattr(request.scope.get("route"), "path", ""),
        routes=route_table(request),
    )


def render(request: Request, error: Exception) -> JSONResponse:
    return problem_response(request.scope, problem_of_request(request, error))


def install_error_handlers(app: FastAPI) -> None:
    for kind in REFUSED:
        app.add_exception_handler(kind, render)
