"""What wraps every request: its id, the security headers, the body limit, the last
line against unexpected errors, and the request metrics.

``RequestGuard`` gives each request an id (the caller's ``X-Request-ID`` or a new one)
that every response carries, refuses bodies over 1 MiB, and turns anything unexpected
into a 500 envelope without a stack trace.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl
from uuid import uuid4

from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import UNMATCHED_ROUTE, Metrics
from api.problems import BODY_MAX_BYTES, TOO_LARGE, BodyTooLarge, Problem, internal

# How a problem the guard meets itself is answered: the API's envelope, or a page.
Render = Callable[[Scope, Problem], Response]

log = logging.getLogger(__name__)

# Every answer: no content sniffing. API answers are a customer's data: no cache keeps them.
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff")]
API_HEADERS = [(b"cache-control", b"no-store")]
# Pages: nothing from another origin, no script at all, no framing; the key a page may be
# opened with never leaves in a Referer.
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = [
    (b"content-security-policy", PAGE_POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

# A write answered before the read model showed it (its wait timed out): durable, but a
# read right after it may not see it yet.
READ_MODEL_BEHIND = (b"x-read-model", b"behind")

# A caller's request id is echoed when it is short visible ASCII, so it is safe in logs.
_REQUEST_ID_OK = re.compile(r"^[\x21-\x7e]{1,200}$")


class RequestGuard:
    """Request id, body size limit, and the last line against unexpected errors."""

    def __init__(self, app: ASGIApp, render: Render) -> None:
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        if scope["path"].startswith("/v1.0"):
            _json_unless_declared_otherwise(scope)
        started = False
        security = SECURITY_HEADERS + _headers_of(scope["path"])
        ours = {b"x-request-id", *(name for name, _ in security)}

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k not in ours]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                headers += security
                if scope["state"].get("read_model_behind"):
                    headers.append(READ_MODEL_BEHIND)
                message = {**message, "headers": headers}
            await send(message)

        if _declared_length(scope) > BODY_MAX_BYTES:
            too_large = self.render(scope, Problem(413, "PAYLOAD_TOO_LARGE", TOO_LARGE))
            await too_large(scope, receive, send_with_id)
            return
        repeated = _repeated_parameter(scope) if scope["path"].startswith("/v1.0") else None
        if repeated is not None:
            # Every parameter takes one value: which of several was meant is not ours to guess.
            said = "is given more than once"
            twice = Problem(
                400, "INVALID_ARGUMENT", f"{repeated}: {said}", details=((repeated, said),)
            )
            refused = self.render(scope, twice)
            await refused(scope, receive, send_with_id)
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
            await self.render(scope, internal(request_id))(scope, receive, send_with_id)


def _headers_of(path: str) -> list[tuple[bytes, bytes]]:
    if path.startswith("/v1.0"):
        return API_HEADERS
    if path.startswith("/ui"):
        # A page is one customer's data too; the style sheet may be kept a while.
        return PAGE_HEADERS if path.startswith("/ui/static/") else [*PAGE_HEADERS, *API_HEADERS]
    return []


# What a client sends when it does not say: `curl -d` says form-encoded, some say text.
_UNDECLARED_JSON = (b"application/x-www-form-urlencoded", b"text/plain", b"")


def _json_unless_declared_otherwise(scope: Scope) -> None:
    """Every /v1.0 body is JSON: one sent as a form or as text (what `curl -d` does) is
    read as JSON rather than refused for its Content-Type. The scope is changed in place:
    the middlewares around this one read what the router writes into it."""
    headers = scope.get("headers", [])
    declared = next((v for k, v in headers if k == b"content-type"), None)
    if declared is None or declared.split(b";")[0].strip().lower() in _UNDECLARED_JSON:
        kept = [(k, v) for k, v in headers if k != b"content-type"]
        scope["headers"] = [*kept, (b"content-type", b"application/json")]


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            text: str = value.decode("latin-1")
            if _REQUEST_ID_OK.match(text):
                return text
    return f"req_{uuid4().hex}"


def _repeated_parameter(scope: Scope) -> str | None:
    """The first query parameter named more than once, if any."""
    seen: set[str] = set()
    query: bytes = scope.get("query_string", b"")
    for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            return name
        seen.add(name)
    return None


def _declared_length(scope: Scope) -> int:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


requests_log = logging.getLogger("outdial.requests")


class RequestMetrics:
    """Counts and logs every answer, errors and unknown routes included: one line each,
    with the route's template (never the path or query, which may carry a key)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # A mounted app's routes are named below its mount (root_path, e.g. /ui); a
            # path the mounted app has no route for is left with the mount itself.
            matched = scope.get("route")
            route = (
                UNMATCHED_ROUTE
                if matched is None or isinstance(matched, Mount)
                else scope.get("root_path", "") + matched.path
            )
            method = scope.get("method", "")
            took = time.perf_counter() - began
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(took)
            state = scope.get("state") or {}
            requests_log.info(
                "%s %s %s %.1f ms",
                method,
                route,
                status,
                took * 1000,
                extra={
                    "request_id": state.get("request_id", ""),
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(took * 1000, 2),
                    "customer_id": state.get("customer_id", ""),
                },
            )
