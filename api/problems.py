"""Every refusal, mapped once: an exception becomes a ``Problem`` (HTTP status, wire
status, stable reason, message, the fields at fault, headers), which the API renders as
its JSON envelope (api/http/errors.py) and the pages as HTML (api/pages/errors.py).

``REASONS`` lists every reason a caller can meet; docs/api.md's table of reasons is
checked against it by a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from application.errors import ApplicationError, ConcurrentChange, NotFound
from domain.errors import DialNotFound, DomainError, InvalidValue
from projections.failures import STORE_UNREACHABLE

BODY_MAX_BYTES = 1024 * 1024
SEND_JSON = 'send a JSON object, such as {"name": "spring campaign"}'
TOO_LARGE = f"the body is over {BODY_MAX_BYTES} bytes"

STATUS_OF_HTTP = {
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


class Unauthenticated(Exception):
    """No key, or a key nobody made (``reason`` says which)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Throttled(Exception):
    """Too many failed authentications from one client address (api/access.py)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Unavailable(Exception):
    """The service cannot answer this now (a store, or no projection following)."""

    def __init__(self, reason: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


class BodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail=TOO_LARGE)


@dataclass(frozen=True)
class Problem:
    http_status: int
    reason: str
    message: str
    status: str = ""  # the wire status; by default the one of the HTTP status
    details: tuple[tuple[str, str], ...] = ()  # (field, what is wrong)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def wire_status(self) -> str:
        return self.status or STATUS_OF_HTTP.get(self.http_status, "INTERNAL")


# Every reason a caller can meet: (reason, HTTP status, wire status, when).
REASONS: tuple[tuple[str, int, str, str], ...] = (
    ("INVALID_ARGUMENT", 400, "INVALID_ARGUMENT", "a body field, query or path parameter breaks its rule; `details` names the fields"),
    ("INVALID_ID", 400, "INVALID_ARGUMENT", "a path or query id is not a UUID"),
    ("INVALID_JSON_BODY", 400, "INVALID_ARGUMENT", "the body is not valid JSON (or not UTF-8); checked before the key"),
    ("INVALID_PAGE_TOKEN", 400, "INVALID_ARGUMENT", "a `page_token` the service did not issue for this list and filters, and not a time"),
    ("MISSING_API_KEY", 401, "UNAUTHENTICATED", "no key in the header or the query"),
    ("INVALID_API_KEY", 401, "UNAUTHENTICATED", "a key nobody made, or one revoked"),
    ("ROUTE_NOT_FOUND", 404, "NOT_FOUND", "no route for the path"),
    ("OUTDIAL_NOT_FOUND", 404, "NOT_FOUND", "no such outdial for this customer"),
    ("OUTDIAL_TARGET_NOT_FOUND", 404, "NOT_FOUND", "no such target in this outdial of this customer"),
    ("DIAL_NOT_FOUND", 404, "NOT_FOUND", "finishing a dial never started on this target"),
    ("VERSION_NOT_FOUND", 404, "NOT_FOUND", "`?version=` past the last event, or `?at=` before the target existed"),
    ("WEBHOOK_NOT_FOUND", 404, "NOT_FOUND", "this customer has no webhook"),
    ("DO_NOT_CALL_ENTRY_NOT_FOUND", 404, "NOT_FOUND", "no such do-not-call entry for this customer"),
    ("ERASURE_NOT_FOUND", 404, "NOT_FOUND", "no such erasure for this customer"),
    ("METHOD_NOT_ALLOWED", 405, "INVALID_ARGUMENT", "the path does not take this method; see `Allow`"),
    ("OUTDIAL_DELETED", 409, "FAILED_PRECONDITION", "updating a deleted outdial or adding targets to it"),
    ("OUTDIAL_PAUSED", 409, "FAILED_PRECONDITION", "starting a dial on a target of a paused outdial"),
    ("TARGET_NOT_DIALABLE", 409, "FAILED_PRECONDITION", "starting a dial on a target that may not be dialed (outside its calling window, on the do-not-call list, ...), or under a deleted outdial"),
    ("OUTDIAL_NOT_DELETED", 409, "FAILED_PRECONDITION", "erasing every target of an outdial that is not deleted"),
    ("STORED_IN_PLAINTEXT", 409, "FAILED_PRECONDITION", "erasing a target stored before its personal fields were sealed (docs/operations.md says what to do)"),
    ("DIAL_ALREADY_FINISHED", 409, "FAILED_PRECONDITION", "a different result for a dial already finished"),
    ("IDEMPOTENCY_KEY_REUSED", 409, "FAILED_PRECONDITION", "an `Idempotency-Key` used by this customer within 24 h for a different request"),
    ("CONCURRENT_CHANGE", 409, "ABORTED", "another write to the same outdial or target won at the same moment, or dispatch lost every candidate; safe to retry"),
    ("IDEMPOTENCY_KEY_IN_PROGRESS", 409, "ABORTED", "a request with this `Idempotency-Key` is running now; safe to retry"),
    ("PAYLOAD_TOO_LARGE", 413, "PAYLOAD_TOO_LARGE", "a body over 1 MiB"),
    ("TOO_MANY_FAILED_AUTHENTICATIONS", 429, "RESOURCE_EXHAUSTED", "20 requests without a valid key from this client address within 60 s; see `Retry-After`"),
    ("INTERNAL", 500, "INTERNAL", "an unexpected failure; the message quotes the request id"),
    ("STORE_UNAVAILABLE", 503, "UNAVAILABLE", "a store is busy, locked or down (a request, or `/readyz`); safe to retry"),
    ("PROJECTION_INACTIVE", 503, "UNAVAILABLE", "writes and `/readyz`: no projection of the store has been active for more than 5 s; see `Retry-After`"),
    ("PROJECTION_FAILING", 503, "UNAVAILABLE", "writes and `/readyz`: the projection is stuck on an event it cannot apply; see `Retry-After`"),
    ("PROJECTION_LAGGING", 503, "UNAVAILABLE", "`/readyz`: an event has waited longer than `OUTDIAL_READY_MAX_DELAY_SECONDS` for the read model"),
)  # fmt: skip


# Every exception a request may end in that is a refusal, not a fault.
REFUSED: tuple[type[Exception], ...] = (
    DomainError,
    ApplicationError,
    RequestValidationError,
    HTTPException,
    Unauthenticated,
    Throttled,
    Unavailable,
    *STORE_UNREACHABLE,
)


def problem_of(
    error: Exception, *, path: str, method: str, route: str = "", routes: Any = None
) -> Problem:
    """The problem an exception answers. ``route`` is the template the request matched
    (if any); ``routes`` (api/http/routing.py) tells a literal segment from a malformed id
    and which methods a path takes."""
    if isinstance(error, DomainError | ApplicationError):
        return _refusal(error)
    if isinstance(error, RequestValidationError):
        return _invalid_request(error, path=path, method=method, route=route, routes=routes)
    if isinstance(error, HTTPException):
        return _framework(error, path=path, method=method, routes=routes)
    if isinstance(error, Unauthenticated):
        return Problem(401, error.reason, error.message, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(error, Throttled):
        return Problem(
            429,
            "TOO_MANY_FAILED_AUTHENTICATIONS",
            error.message,
            headers={"Retry-After": str(error.retry_after)},
        )
    if isinstance(error, Unavailable):
        headers = {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}
        return Problem(503, error.reason, error.message, headers=headers)
    if isinstance(error, STORE_UNREACHABLE):
        return Problem(503, "STORE_UNAVAILABLE", "a store did not answer in time; retry shortly")
    msg = f"no problem is known for {type(error).__name__}"
    raise TypeError(msg)


def _refusal(error: DomainError | ApplicationError) -> Problem:
    if isinstance(error, InvalidValue):
        return Problem(400, error.reason, error.message, details=((error.field, error.problem),))
    if isinstance(error, NotFound | DialNotFound):
        return Problem(404, error.reason, error.message)
    if isinstance(error, ConcurrentChange):
        return Problem(409, error.reason, error.message, status="ABORTED")
    return Problem(409, error.reason, error.message)


def _invalid_request(
    error: RequestValidationError, *, path: str, method: str, route: str, routes: Any
) -> Problem:
    """Pydantic's refusals as 400 naming the field (never 422)."""
    errors = error.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        where = f"{first.get('ctx', {}).get('error', 'invalid')} at character {first['loc'][-1]}"
        message = f"the body is not valid JSON: {where}; {SEND_JSON}"
        return Problem(400, "INVALID_JSON_BODY", message, details=(("body", where),))
    details = tuple(_field_problem(e) for e in errors) or (("body", "is invalid"),)
    if first.get("type") == "uuid_parsing" and first["loc"][0] in ("path", "query"):
        named = routes.routes(path) if routes is not None else {}
        if named and route not in named:
            # /targets/batch names the batch resource, not a malformed target id.
            return _method_not_allowed(method, path, routes.methods(path))
        return Problem(400, "INVALID_ID", f"{details[0][0]}: is not a UUID", details=details)
    return Problem(400, "INVALID_ARGUMENT", f"{details[0][0]}: {details[0][1]}", details=details)


def _field_problem(error: Any) -> tuple[str, str]:
    """Pydantic's ``loc`` as the caller wrote the field: ``targets[3].destination_2.target``."""
    loc = list(error.get("loc", ()))
    where = loc[1:] if len(loc) > 1 else loc
    name = ""
    for part in where:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    message = str(error.get("msg", "is invalid"))
    if error.get("type") == "extra_forbidden":
        message = "is not a field of this body"
    return name or "body", message


def _framework(error: HTTPException, *, path: str, method: str, routes: Any) -> Problem:
    """The framework's own refusals: unknown route, wrong method, unreadable body."""
    headers = dict(error.headers or {})
    code = error.status_code
    if code == 404:
        return Problem(404, "ROUTE_NOT_FOUND", f"no route {path}", headers=headers)
    if code == 405:
        allow = routes.methods(path) if routes is not None else set()
        return _method_not_allowed(method, path, allow)
    if code == 413:
        return Problem(413, "PAYLOAD_TOO_LARGE", TOO_LARGE)
    if code == 400:
        # FastAPI's only own 400: a body it could not read as JSON (e.g. not UTF-8).
        return Problem(400, "INVALID_JSON_BODY", f"the body is not valid JSON; {SEND_JSON}")
    status = STATUS_OF_HTTP.get(code, "INTERNAL" if code >= 500 else "INVALID_ARGUMENT")
    return Problem(code, f"HTTP_{code}", str(error.detail), status=status, headers=headers)


def _method_not_allowed(method: str, path: str, allow: set[str]) -> Problem:
    return Problem(
        405,
        "METHOD_NOT_ALLOWED",
        f"{method} is not allowed on {path}",
        headers={"Allow": ", ".join(sorted(allow))},
    )


def internal(request_id: str) -> Problem:
    return Problem(500, "INTERNAL", f"an unexpected error; quote request_id {request_id}")
