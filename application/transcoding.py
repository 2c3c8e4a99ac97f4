"""How the domain's value objects are stored inside events and snapshots.

Names are part of the stored format: never rename one, add a new one instead.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.address import Address
from domain.plan import Plan
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

    def encode(self, obj: Plan) -> dict[str, int]:
        return obj.as_dict()

    def decode(self, data: dict[str, int]) -> Plan:
        return Plan(**data)


class DialAsDict(Transcoding):
    """A target's memory of one dial (snapshots carry it)."""

    type = Dial
    name = "dial"

    def encode(self, obj: Dial) -> dict[str, Any]:
        # Shallow on purpose: nested values are transcoded by their own transcodings.
        return {f.name: getattr(obj, f.name) for f in fields(obj)}

    def decode(self, data: dict[str, Any]) -> Dial:
        return Dial(**data)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    transcoder.register(AddressAsDict())
    transcoder.register(PlanAsDict())
    transcoder.register(DialAsDict())


class EventTranscoder(JSONTranscoder):
    """The library's JSON transcoder, reading with orjson.

    What it writes is the library's format, to the byte; reading parses the same text
    with orjson and turns ``{"_type_", "_data_"}`` objects into values as the library
    does, in about half the time, which every aggregate load, replay and rebuild pays
    per event. Text orjson refuses (never written by this transcoder) falls back.
    """

    def decode(self, data: bytes) -> Any:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode(data)
        return self._revive(parsed)

    def _revive(self, value: Any) -> Any:
        if isinstance(value, dict):
            revived = {key: self._revive(item) for key, item in value.items()}
            return self._decode_obj(revived)
        if isinstance(value, list):
            return [self._revive(item) for item in value]
        return value
