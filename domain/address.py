"""Address: one destination of a target, and the rules of each address type.

The table of types and their rules is in docs/api.md, Addresses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.errors import InvalidValue
from domain.text import check_plain_text

ADDRESS_FIELD_MAX = 255

# Each pattern must match the whole target (fullmatch): "$" would let a final newline in.
_E164 = re.compile(r"\+[0-9]{7,15}")
_SIP = re.compile(r"[^@\s:;]+@[A-Za-z0-9.\-\[\]:]+")
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
# A target is dialed and searched as it is: no whitespace, no control character, and no
# bidirectional formatting, which would make it display other than it dials.
_NOT_IN_TARGET = re.compile("[\\s\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def is_e164(target: str) -> bool:
    return _E164.fullmatch(target) is not None


def _is_bare(target: str) -> bool:
    return bool(target) and _NOT_IN_TARGET.search(target) is None


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return _is_bare(value)


# type -> (rule, what the rule asks for, in words for the error message)
_TARGET_RULES: dict[str, tuple[Callable[[str], bool], str]] = {
    "tel": (is_e164, "an E.164 number such as +821100000001"),
    "whatsapp": (is_e164, "an E.164 number such as +821100000001"),
    "sip": (lambda t: _SIP.fullmatch(t) is not None and _is_bare(t), "a SIP address user@domain"),
    "email": (lambda t: _EMAIL.fullmatch(t) is not None, "a valid e-mail address"),
    "extension": (_is_bare, "a non-empty string without spaces or control characters"),
    "line": (_is_bare, "a non-empty string without spaces or control characters"),
    "agent": (_is_uuid, "a UUID"),
    "conference": (_is_uuid, "a UUID"),
    "webchat": (_is_uuid, "a UUID"),
    "web_session": (_is_uuid, "a UUID"),
}

ADDRESS_TYPES: tuple[str, ...] = tuple(_TARGET_RULES)
# A bare phone number needs no type: VoIPbin's CLI sends only the number.
IMPLIED_TYPE = "tel"


@dataclass(frozen=True)
class Address:
    """Where a dial goes: a type and a target, plus labels for people."""

    type: str
    target: str
    target_name: str = ""
    name: str = ""
    detail: str = ""

    @classmethod
    def parse(cls, raw: object, field: str) -> Address:
        """Build a valid address from untrusted input; errors name ``field.sub``."""
        if not isinstance(raw, Mapping):
            raise InvalidValue(field, "must be an object with 'type' and 'target'")
        unknown = sorted(set(raw) - {"type", "target", "target_name", "name", "detail"})
        if unknown:
            raise InvalidValue(f"{field}.{unknown[0]}", "is not a field of an address")
        values: dict[str, str] = {}
        for key in ("type", "target", "target_name", "name", "detail"):
            value: Any = raw.get(key, "")
            if value is None and key not in ("type", "target"):
                value = ""
            if not isinstance(value, str):
                raise InvalidValue(f"{field}.{key}", "must be a string")
            if value:  # an empty field passes every check
                if len(value) > ADDRESS_FIELD_MAX:
                    raise InvalidValue(
                        f"{field}.{key}", f"must be at most {ADDRESS_FIELD_MAX} characters"
                    )
                check_plain_text(f"{field}.{key}", value)
            values[key] = value
        kind = values["type"]
        if not kind:
            if not is_e164(values["target"]):
                raise InvalidValue(
                    f"{field}.type",
                    "is required unless target is an E.164 number such as +821100000001; "
                    f"one of {', '.join(ADDRESS_TYPES)}",
                )
            kind = values["type"] = IMPLIED_TYPE
        if kind not in _TARGET_RULES:
            raise InvalidValue(f"{field}.type", f"must be one of {', '.join(ADDRESS_TYPES)}")
        rule, wanted = _TARGET_RULES[kind]
        if not rule(values["target"]):
            raise InvalidValue(f"{field}.target", f"must be {wanted} for type '{kind}'")
        return cls(**values)

    @classmethod
    def parse_destination(cls, raw: object, field: str) -> Address | None:
        """A destination slot from untrusted input: None when it is unset.

        Unset is absent, null, ``{}`` or every field empty: VoIPbin's SDK sends all five
        destinations on every create, the unset ones as ``{}``.
        """
        if raw is None:
            return None
        if isinstance(raw, Mapping) and all(v is None or v == "" for v in raw.values()):
            return None
        return cls.parse(raw, field)

    def as_dict(self) -> dict[str, str]:
        return {
            "type": self.type,
            "target": self.target,
            "target_name": self.target_name,
            "name": self.name,
            "detail": self.detail,
        }


def is_valid_target(kind: str, target: str) -> bool:
    """``target`` is what an address of type ``kind`` may hold."""
    rule = _TARGET_RULES.get(kind)
    return rule is not None and rule[0](target) and _is_bare(target)
