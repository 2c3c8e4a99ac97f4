"""How the domain's value objects are stored inside events and snapshots.

Names are part of the stored format: never rename one, add a new one instead.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.address import Address
from domain.calling_window import CallingWindow
from domain.plan import Plan
from domain.retry_rules import Decision
from domain.target import Dial


class AddressAsDict(Transcoding):
    type = Address
    name = "address"

    def encode(self, obj: Address) -> dict[str, str]:
        return obj.as_dict()

    def decode(self, data: dict[str, str]) -> Address:
        return Address(**data)


class PlanAsDict(Transcoding):
    type = Plan
    name = "plan"

    def encode(self, obj: Plan) -> dict[str, object]:
        return obj.as_dict()

    def decode(self, data: dict[str, object]) -> Plan:
        return Plan.from_dict(data)  # one stored before retry rules has none


class DialAsDict(Transcoding):
    """A target's memory of one dial (snapshots carry it)."""

    type = Dial
    name = "dial"

    def encode(self, obj: Dial) -> dict[str, Any]:
        # Shallow on purpose: nested values are transcoded by their own transcodings.
        return {f.name: getattr(obj, f.name) for f in fields(obj)}

    def decode(self, data: dict[str, Any]) -> Dial:
        # JSON has no tuples: the zones read back as a list (absent before windows).
        return Dial(**{**data, "time_zones": tuple(data.get("time_zones", ()))})


class CallingWindowAsDict(Transcoding):
    type = CallingWindow
    name = "calling_window"

    def encode(self, obj: CallingWindow) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> CallingWindow:
        return CallingWindow.parse(data)


class DecisionAsDict(Transcoding):
    """What a retry rule did to a target (snapshots carry it)."""

    type = Decision
    name = "retry_decision"

    def encode(self, obj: Decision) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> Decision:
        return Decision.from_dict(data)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    transcoder.register(AddressAsDict())
    transcoder.register(PlanAsDict())
    transcoder.register(DialAsDict())
    transcoder.register(CallingWindowAsDict())
    transcoder.register(DecisionAsDict())
