"""Which routes a path names, for the ``Allow`` header of a 405 and for telling a
literal segment from a malformed id."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.routing import compile_path


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


def route_table(request: Request) -> RouteTable:
    table: RouteTable = request.app.state.route_table
    return table
