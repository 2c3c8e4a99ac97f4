"""Adjustments of the generated OpenAPI description."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.http.dependencies import KEY_SCHEMES, customer_of_key


def document_no_422(app: FastAPI) -> None:
    """FastAPI documents a 422 on every operation with parameters; here they are 400s."""

    def adjust(document: dict[str, Any]) -> None:
        for operations in document["paths"].values():
            for operation in operations.values():
                operation["responses"].pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            document.get("components", {}).get("schemas", {}).pop(name, None)

    _adjusted(app, adjust)


def document_keys(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Every operation of ``routers`` that acts for the caller's customer names the three
    ways to send its key (api/http/dependencies.py reads them itself)."""

    def adjust(document: dict[str, Any]) -> None:
        document.setdefault("components", {})["securitySchemes"] = KEY_SCHEMES
        for route in (r for router in routers for r in router.routes):
            if isinstance(route, APIRoute) and _calls(route.dependant, customer_of_key):
                for method in route.methods or ():
                    operation = document["paths"][route.path_format][method.lower()]
                    operation["security"] = [{name: []} for name in KEY_SCHEMES]

    _adjusted(app, adjust)


def _calls(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call for d in _every(dependant))


def _every(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _every(sub)


def _adjusted(app: FastAPI, adjust: Callable[[dict[str, Any]], None]) -> None:
    """The description as generated, then ``adjust``ed once, when first asked for."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        document = generate()
        if first:
            adjust(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
