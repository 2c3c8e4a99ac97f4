"""The pages' templates, and the helpers every template may call."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from api.readable import changed, said_by
from domain.outdial import NO_CAMPAIGN
from domain.timeline import NOT_DELETED

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    said_by=said_by, changed=changed, not_deleted=NOT_DELETED, no_campaign=str(NO_CAMPAIGN)
)
STYLE = (HERE / "static" / "pages.css").read_bytes()
