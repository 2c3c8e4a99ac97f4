"""The pages' templates, and the helpers every template may call."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from api.readable import changed, said_by
from domain.do_not_call import EVERY_OUTDIAL
from domain.outdial import NO_CAMPAIGN
from domain.timeline import NOT_DELETED

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def weekdays(days: list[int]) -> str:
    """ISO weekdays as people write them: runs as ranges (Mon to Fri as "Mon-Fri")."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(
        _DAYS[r[0] - 1] if len(r) == 1 else f"{_DAYS[r[0] - 1]}-{_DAYS[r[-1] - 1]}" for r in runs
    )


HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    said_by=said_by,
    changed=changed,
    not_deleted=NOT_DELETED,
    no_campaign=str(NO_CAMPAIGN),
    every_outdial=str(EVERY_OUTDIAL),
    weekdays=weekdays,
)
STYLE = (HERE / "static" / "pages.css").read_bytes()
