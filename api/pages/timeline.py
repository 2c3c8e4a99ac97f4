"""A target's timeline laid out for an inline SVG: every event and every dial attempt on
one time axis.

One row a dial attempt (a bar from its start to its end, or to now while it is in
flight, its DialStarted and DialFinished events as the bar's ends) and one row each
other event (a marker at its time). The page's template only draws what this computes,
so the layout is tested without a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from application.history import EventRecord
from domain.retry_rules import Decision
from domain.target import Dial

# The drawing's coordinate system (the SVG scales to the page's width).
WIDTH = 1000
LABELS = 420  # the left part, where each row says what it is
PLOT_LEFT = LABELS + 10
PLOT_RIGHT = WIDTH - 20
AXIS = 34  # height of the time axis above the rows
ROW = 40
BAR_MIN = 3  # a dial of a few milliseconds still shows

# Tick steps a reader counts in, smallest first.
_STEPS = (
    [timedelta(milliseconds=n) for n in (1, 2, 5, 10, 20, 50, 100, 200, 500)]
    + [timedelta(seconds=n) for n in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800)]
    + [timedelta(hours=n) for n in (1, 2, 3, 6, 12, 24, 48, 168, 336, 720)]
)
_TICKS_MAX = 6

Position = Callable[[datetime], float]  # where a moment is drawn


@dataclass(frozen=True)
class Marker:
    """One stored event, where it happened."""

    x: float
    version: int
    type: str
    at: datetime
    actor: str
    late: bool = False  # a caller's finish after the service had timed the dial out


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass
class Row:
    """One line of the drawing: a dial attempt (``kind`` its result, or ``progressing``)
    or another event (``kind`` ``event``)."""

    y: float
    kind: str
    what: str  # the first line of its label, after the versions of its events
    detail: str  # the second line
    markers: list[Marker] = field(default_factory=list)
    bar_x: float | None = None  # dials only
    bar_width: float = 0.0

    @property
    def title(self) -> str:
        """``v2-v3 dial tel:+82... (destination 0, try 1)``: the versions of the start and
        the finish (a late finish is a marker of its own, past the bar's end)."""
        versions = [m.version for m in self.markers if not m.late]
        return "\N{EN DASH}".join(f"v{v}" for v in versions[:2]) + " " + self.what


@dataclass(frozen=True)
class Timeline:
    rows: list[Row]
    ticks: list[Tick]
    height: float
    start: datetime
    end: datetime

    @property
    def plot_bottom(self) -> float:
        return self.height - 6


def lay_out(
    events: Sequence[EventRecord],
    dials: dict[str, Dial],
    now: datetime,
    decisions: Mapping[str, Decision | None] | None = None,
) -> Timeline:
    """The rows, markers and ticks of a target's history; ``now`` ends a dial in flight.
    ``decisions``: by dial id, the retry rule that decided its finish (``decision_of``),
    which its row says in place of the bare reason."""
    decided = decisions or {}
    if not events:
        msg = "a target has at least its Created event"
        raise ValueError(msg)
    start = events[0].timestamp
    end = max([e.timestamp for e in events] + [now for d in dials.values() if d.in_flight])
    # A little room either side, so the first and last markers are not cut by the edges.
    margin = (end - start) / 25 if end > start else timedelta(milliseconds=500)
    left, span = start - margin, end - start + 2 * margin

    def x_of(at: datetime) -> float:
        return PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * ((at - left) / span)

    rows: list[Row] = []
    row_of_dial: dict[str, Row] = {}
    for event in events:
        marker = Marker(
            x=x_of(event.timestamp),
            version=event.version,
            type=event.type,
            at=event.timestamp,
            actor=str(event.data.get("actor") or ""),
            late=bool(event.data.get("late")),
        )
        dial_id = str(event.data.get("dial_id", ""))
        if event.type == "DialStarted" and dial_id in dials:
            y = AXIS + ROW * len(rows)
            row = _dial_row(dials[dial_id], decided.get(dial_id), y, x_of, now)
            rows.append(row)
            row_of_dial[dial_id] = row
        elif event.type == "DialFinished" and dial_id in row_of_dial:
            row = row_of_dial[dial_id]
        else:
            row = Row(
                y=AXIS + ROW * len(rows),
                kind="event",
                what=event.type,
                detail=_when(event.timestamp) + (f" by {marker.actor}" if marker.actor else ""),
            )
            rows.append(row)
        row.markers.append(marker)
    return Timeline(
        rows=rows,
        ticks=_ticks(left, span, x_of),
        height=AXIS + ROW * len(rows) + 10,
        start=start,
        end=end,
    )


def rule_words(decision: Decision) -> str:
    """What a rule decided, without the dial (the row or line already names it):
    ``busy → retry after 300 s``."""
    return decision.describe().removesuffix(f", dial {decision.dial_id}")


def _dial_row(
    dial: Dial, decision: Decision | None, y: float, x_of: Position, now: datetime
) -> Row:
    ended = dial.ended_at or now
    left = x_of(dial.started_at)
    width = max(x_of(ended) - left, BAR_MIN)
    outcome = dial.result or "progressing"
    said = [outcome]
    if decision is not None:
        said.append(rule_words(decision))  # the reason, and what its rule did
    elif dial.reason:
        said.append(dial.reason)
    if dial.timed_out:
        said.append("timed out")
    if dial.late:
        said.append("finished late")
    took = duration_text(ended - dial.started_at)
    said.append(took if dial.ended_at else f"{took} so far")
    return Row(
        y=y,
        kind=outcome,
        what=(
            f"dial {dial.destination.type}:{dial.destination.target} "
            f"(destination {dial.destination_index}, try {dial.try_count})"
        ),
        detail=" · ".join(said),
        bar_x=left,
        bar_width=width,
    )


def _ticks(start: datetime, span: timedelta, x_of: Position) -> list[Tick]:
    step = next((s for s in _STEPS if span / s <= _TICKS_MAX), _STEPS[-1])
    # The first tick on a whole step since midnight UTC, so labels are round numbers.
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight + step * -(-(start - midnight) // step)
    ticks = []
    at = first
    while at <= start + span:
        ticks.append(Tick(x=x_of(at), label=_tick_label(at, step)))
        at += step
    return ticks


def _tick_label(at: datetime, step: timedelta) -> str:
    if step >= timedelta(days=1):
        return at.strftime("%Y-%m-%d")
    if step >= timedelta(minutes=1):
        return at.strftime("%H:%M")
    if step >= timedelta(seconds=1):
        return at.strftime("%H:%M:%S")
    return at.strftime("%H:%M:%S.") + f"{at.microsecond // 1000:03d}"


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") + f".{at.microsecond // 1000:03d}"


def duration_text(took: timedelta) -> str:
    """A dial's length as people say it: 850 ms, 12.3 s, 4 min 05 s, 2 h 10 min."""
    ms = took / timedelta(milliseconds=1)
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, second = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {second:02d} s"
    hours, minute = divmod(minutes, 60)
    return f"{hours} h {minute:02d} min"
