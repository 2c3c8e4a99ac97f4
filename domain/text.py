"""Free-text fields shared by outdials and targets, and their limits (docs/api.md, Limits)."""

from __future__ import annotations

from domain.errors import InvalidValue

NAME_MAX = 255
DETAIL_MAX = 2_048
DATA_MAX = 16_384


def checked_text(field: str, value: object, limit: int) -> str:
    """Return ``value`` when it is a string of at most ``limit`` characters."""
    if not isinstance(value, str):
        raise InvalidValue(field, "must be a string")
    if len(value) > limit:
        raise InvalidValue(field, f"must be at most {limit} characters, got {len(value)}")
    return value


def checked_name(value: object, field: str = "name") -> str:
    return checked_text(field, value, NAME_MAX)


def checked_detail(value: object, field: str = "detail") -> str:
    return checked_text(field, value, DETAIL_MAX)


def checked_data(value: object, field: str = "data") -> str:
    return checked_text(field, value, DATA_MAX)
