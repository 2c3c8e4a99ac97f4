"""Adjustments of the generated OpenAPI description."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def document_no_422(app: FastAPI) -> None:
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
