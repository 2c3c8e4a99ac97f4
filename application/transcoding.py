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
    """The library's JSON transcoder, writing by way of orjson.

    What it writes is the library's format, to the byte: a value is first made of plain
    JSON types (each registered type as the library's ``{"_type_", "_data_"}`` object),
    then written by orjson, in three quarters of the library's time, which every event
    written pays. Anything the two could write differently (a float, a subclass of a JSON
    type, a key that is not a string, an integer past 64 bits) is written by the library's
    encoder instead. Reading is the library's: its decoder, with a hook for each object,
    reads an event as fast as orjson and a walk over what it parsed.
    """

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._plain(obj))
        except (_NotPlain, orjson.JSONEncodeError):
            return super().encode(obj)

    def _plain(self, value: Any) -> Any:
        kind = type(value)
        if kind is dict:
            plain = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise _NotPlain
                # Strings and None, most of an event, without a call each.
                plain[key] = item if type(item) is str or item is None else self._plain(item)
            return plain
        if kind is list or kind is tuple:
            return [
                item if type(item) is str or item is None else self._plain(item) for item in value
            ]
        if kind is str or kind is bool or value is None:
            return value
        if kind is int:
            if -(2**63) <= value < 2**64:
                return value
            raise _NotPlain
        if isinstance(value, _NATIVE):
            raise _NotPlain  # a float, or a subclass the library writes as its base
        transcoding = self.types.get(kind)
        if transcoding is None:
            raise _NotPlain  # the library names the type in its error
        data = transcoding.encode(value)
        return {
            "_type_": transcoding.name,
            "_data_": data if type(data) is str else self._plain(data),
        }


class _NotPlain(Exception):
    """A value orjson could write otherwise than the library's encoder."""


_NATIVE = (str, int, float, dict, list, tuple)
