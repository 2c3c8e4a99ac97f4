"""The one response class of the API: JSON that a presenter made, rendered by orjson.

Presenters are the single source of every wire object and the response schemas document
them; the schemas are not applied again to each answer (that would cost more than most
requests), and the fuzz tests hold every answer against the published description.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class WireResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
