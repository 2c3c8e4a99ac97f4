"""Outdial events → ``outdials`` rows."""

from __future__ import annotations

from typing import Any

from domain.outdial import Outdial
from domain.plan import DEFAULT_PLAN
from domain.timeline import NOT_DELETED, format_timestamp
from projections.rows import ChangedRows
from projections.schema import OUTDIALS, Row, to_json


def outdial_created(rows: ChangedRows, event: Outdial.Created) -> None:
    stamp = format_timestamp(event.timestamp)
    rows.insert(
        OUTDIALS,
        {
            "id": str(event.originator_id),
            "customer_id": str(event.customer_id),
            "campaign_id": str(event.campaign_id),
            "name": event.name,
            "detail": event.detail,
            "data": event.data,
            "plan": to_json(DEFAULT_PLAN),
            "tm_create": stamp,
            "tm_update": stamp,
            "tm_delete": NOT_DELETED,
            "version": event.originator_version,
            "status": "running",
            "calling_window": None,
        },
    )


def outdial_changed(rows: ChangedRows, event: Outdial.Event) -> None:
    """Every later outdial event changes some fields and ``tm_update``."""
    if rows.get(OUTDIALS, str(event.originator_id)) is None:
        msg = f"outdial {event.originator_id} has no row to change"
        raise LookupError(msg)
    changes = _changed_fields(event)
    changes.update(tm_update=format_timestamp(event.timestamp), version=event.originator_version)
    rows.update(OUTDIALS, str(event.originator_id), changes)


def _changed_fields(event: Outdial.Event) -> Row:
    changes: dict[str, Any]
    match event:
        case Outdial.Updated():
            changes = {"name": event.name, "detail": event.detail}
        case Outdial.CampaignChanged():
            changes = {"campaign_id": str(event.campaign_id)}
        case Outdial.DataChanged():
            changes = {"data": event.data}
        case Outdial.PlanChanged():
            changes = {"plan": to_json(event.plan)}
        case Outdial.Paused():
            changes = {"status": "paused"}
        case Outdial.Resumed():
            changes = {"status": "running"}
        case Outdial.CallingWindowChanged():
            changes = {"calling_window": to_json(event.window)}
        case Outdial.Deleted():
            changes = {"tm_delete": format_timestamp(event.timestamp)}
        case _:
            changes = {}
    return changes
