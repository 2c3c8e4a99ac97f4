"""Free-text fields shared by outdials and targets, and their limits (docs/api.md, Limits)."""

from __future__ import annotations

import re

from domain.errors import InvalidValue

NAME_MAX = 255
DETAIL_MAX = 2_048
DATA_MAX = 16_384


# What no store holds the same (PostgreSQL text refuses NUL, UTF-8 refuses lone
# surrogates) or no reader of an audit trail wants: C0 controls other than tab, newline
# and carriage return, DEL, C1 controls, and surrogates (JSON's "\ud800" escapes make them).
_NOT_PLAIN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def check_plain_text(field: str, value: str) -> str:
    """Return ``value`` when every store can hold it as it is, else InvalidValue naming
    ``field`` and where the first character it cannot hold is."""
    found = _NOT_PLAIN.search(value)
    if found is not None:
        raise InvalidValue(
            field,
            f"must not hold control character U+{ord(found.group()):04X} (at position "
            f"{found.start()}); only tab, newline and carriage return are allowed",
        )
    return value


def checked_text(field: str, value: object, limit: int) -> str:
    """Return ``value`` when it is plain text of at most ``limit`` characters."""
    if not isinstance(value, str):
        raise InvalidValue(field, "must be a string")
    if len(value) > limit:
        raise InvalidValue(field, f"must be at most {limit} characters, got {len(value)}")
    return check_plain_text(field, value)


def checked_name(value: object, field: str = "name") -> str:
    return checked_text(field, value, NAME_MAX)


def checked_detail(value: object, field: str = "detail") -> str:
    return checked_text(field, value, DETAIL_MAX)


def checked_data(value: object, field: str = "data") -> str:
    return checked_text(field, value, DATA_MAX)
