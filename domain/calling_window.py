"""Calling window: the hours in which an outdial may call, judged in the callee's time zones.

A destination is judged in the zones its number belongs to (libphonenumber's time-zone
data, through the ``phonenumbers`` package) when the window says so and the number maps
to some, else in the window's own zone. A number whose zones disagree (a toll-free number
maps to dozens) is dialed only while every one of them is open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    PhoneMetadata,
    region_code_for_country_code,
)
from phonenumbers import timezone as number_zones

from domain.address import Address, is_e164
from domain.errors import InvalidValue

HOURS_MAX = 28
CLOSED_DATES_MAX = 366
STOP_BEFORE_END_MAX_S = 3_600
# How far ahead ready_at looks for the window to open.
LOOK_AHEAD = timedelta(days=8)
# Address types whose target is a phone number, judged in the number's own zones.
NUMBER_TYPES = frozenset({"tel", "whatsapp"})
_UNKNOWN_ZONE = "Etc/Unknown"
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])|24:00")
_DAY_MINUTES = 24 * 60


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=65_536)
def number_time_zones(number: str) -> tuple[str, ...]:
    """The IANA zones an E.164 number belongs to, sorted; () when it maps to none."""
    if not is_e164(number):
        return ()
    parsed = e164_number(number)
    if parsed is None:
        return ()
    zones = number_zones.time_zones_for_number(parsed)
    known = _known_zones()
    return tuple(sorted(z for z in zones if z != _UNKNOWN_ZONE and z in known))


def e164_number(number: str) -> phonenumbers.PhoneNumber | None:
    """``phonenumbers.parse`` of an E.164 string, None where it fails; most numbers
    without its general parser (half a number's zone lookup), which is left the numbers
    whose country strips a national prefix from the front of theirs."""
    digits = number[1:]
    for length in (1, 2, 3):  # calling codes are prefix-free: the first known one is it
        code = int(digits[:length])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return _parsed(number)
    national = digits[length:]
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        code, region_code_for_country_code(code)
    )
    if (
        digits[0] == "0"
        or not 2 <= len(national) <= 17
        or metadata is None
        or _strips_national_prefix(metadata.national_prefix_for_parsing, national)
    ):
        return _parsed(number)
    zeros = len(national) - len(national.lstrip("0"))
    zeros = min(zeros, len(national) - 1)  # an all-zero number keeps its last zero
    return phonenumbers.PhoneNumber(
        country_code=code,
        national_number=int(national),
        italian_leading_zero=True if zeros else None,
        number_of_leading_zeros=zeros if zeros > 1 else None,
    )


def _strips_national_prefix(pattern: str | None, national: str) -> bool:
    return bool(pattern) and _pattern(pattern).match(national) is not None


@lru_cache(maxsize=512)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _parsed(number: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return None


def _in(field: str, name: str) -> str:
    """``name`` inside ``field``; bare when ``field`` is "" (a body that is the window)."""
    return f"{field}.{name}" if field else name


def _minutes(field: str, value: object) -> int:
    if not isinstance(value, str) or _CLOCK.fullmatch(value) is None:
        raise InvalidValue(field, "must be a time HH:MM between 00:00 and 24:00")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Hours:
    """Open from ``start`` to ``end`` (minutes after local midnight) on ISO ``days``."""

    days: tuple[int, ...]
    start: int
    end: int

    @classmethod
    def parse(cls, raw: object, field: str) -> Hours:
        if not isinstance(raw, Mapping):
            raise InvalidValue(field, "must be an object with days, start and end")
        unknown = sorted(set(raw) - {"days", "start", "end"})
        if unknown:
            raise InvalidValue(_in(field, unknown[0]), "is not a field of calling hours")
        days = raw.get("days")
        if (
            not isinstance(days, list | tuple)
            or not days
            or any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 7 for d in days)
        ):
            raise InvalidValue(
                _in(field, "days"), "must list ISO weekdays, 1 (Monday) to 7 (Sunday)"
            )
        start = _minutes(_in(field, "start"), raw.get("start"))
        end = _minutes(_in(field, "end"), raw.get("end"))
        if start >= end:
            raise InvalidValue(
                _in(field, "end"),
                "must be later than start (a window past midnight is two entries)",
            )
        return cls(tuple(sorted(set(days))), start, end)

    def as_dict(self) -> dict[str, Any]:
        return {"days": list(self.days), "start": _clock(self.start), "end": _clock(self.end)}


@dataclass(frozen=True)
class CallingWindow:
    """When an outdial may call: weekly hours in a zone, closed dates, an early stop."""

    time_zone: str
    hours: tuple[Hours, ...]
    closed_dates: tuple[date, ...] = ()
    use_number_time_zone: bool = True
    stop_before_end_seconds: int = 0

    @classmethod
    def parse(cls, raw: object, field: str = "calling_window") -> CallingWindow:
        """A window from its wire form; InvalidValue naming the first field that is wrong,
        inside ``field`` (bare names when it is "")."""
        if not isinstance(raw, Mapping):
            raise InvalidValue(field or "body", "must be an object")
        allowed = {
            "time_zone",
            "hours",
            "closed_dates",
            "use_number_time_zone",
            "stop_before_end_seconds",
        }
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise InvalidValue(_in(field, unknown[0]), "is not a field of a calling window")
        zone = raw.get("time_zone")
        if not isinstance(zone, str) or zone not in _known_zones():
            raise InvalidValue(
                _in(field, "time_zone"), "must be an IANA time zone such as Asia/Seoul"
            )
        hours = raw.get("hours")
        if not isinstance(hours, list | tuple) or not 1 <= len(hours) <= HOURS_MAX:
            raise InvalidValue(_in(field, "hours"), f"must hold 1 to {HOURS_MAX} entries")
        closed = raw.get("closed_dates", [])
        if not isinstance(closed, list | tuple) or len(closed) > CLOSED_DATES_MAX:
            raise InvalidValue(
                _in(field, "closed_dates"), f"must be a list of at most {CLOSED_DATES_MAX} dates"
            )
        use_number = raw.get("use_number_time_zone", True)
        if not isinstance(use_number, bool):
            raise InvalidValue(_in(field, "use_number_time_zone"), "must be true or false")
        stop = raw.get("stop_before_end_seconds", 0)
        if (
            isinstance(stop, bool)
            or not isinstance(stop, int)
            or not 0 <= stop <= STOP_BEFORE_END_MAX_S
        ):
            raise InvalidValue(
                _in(field, "stop_before_end_seconds"),
                f"must be an integer between 0 and {STOP_BEFORE_END_MAX_S}",
            )
        return cls(
            time_zone=zone,
            hours=tuple(Hours.parse(h, _in(field, f"hours[{n}]")) for n, h in enumerate(hours)),
            closed_dates=tuple(
                sorted({_date(_in(field, f"closed_dates[{n}]"), d) for n, d in enumerate(closed)})
            ),
            use_number_time_zone=use_number,
            stop_before_end_seconds=stop,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "time_zone": self.time_zone,
            "hours": [h.as_dict() for h in self.hours],
            "closed_dates": [d.isoformat() for d in self.closed_dates],
            "use_number_time_zone": self.use_number_time_zone,
            "stop_before_end_seconds": self.stop_before_end_seconds,
        }

    # -- judging ----------------------------------------------------------------

    def zones_of(self, destination: Address) -> tuple[str, ...]:
        """The zones a destination is judged in."""
        if self.use_number_time_zone and destination.type in NUMBER_TYPES:
            zones = number_time_zones(destination.target)
            if zones:
                return zones
        return (self.time_zone,)

    def is_open(self, zones: Iterable[str], at: datetime) -> bool:
        """Open at ``at`` in every one of ``zones``."""
        return all(self._open_in(zone, at) for zone in zones)

    def local_times(self, zones: Sequence[str], at: datetime) -> str:
        """``zone Www HH:MM`` for each zone: what a person reads to see why it is closed."""
        return ", ".join(
            f"{z} {at.astimezone(_zone(z)).strftime('%a %Y-%m-%d %H:%M')}" for z in zones
        )

    def next_open(self, zones: Sequence[str], after: datetime) -> datetime | None:
        """The first instant at or after ``after``, within LOOK_AHEAD, at which the window
        is open in every zone; None when there is none."""
        until = after + LOOK_AHEAD
        spans = [self._open_spans(zone, after, until) for zone in zones]
        moment = after
        while moment < until:
            later = moment
            for zone_spans in spans:
                span = next((s for s in zone_spans if s[1] > moment), None)
                if span is None:
                    return None
                later = max(later, span[0])
            if later == moment:
                return moment
            moment = later
        return None

    def _open_in(self, zone: str, at: datetime) -> bool:
        local = at.astimezone(_zone(zone))
        if local.date() in self.closed_dates:
            return False
        seconds = (
            local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1_000_000
        )
        weekday = local.isoweekday()
        return any(
            weekday in h.days
            and h.start * 60 <= seconds < h.end * 60 - self.stop_before_end_seconds
            for h in self.hours
        )

    def _open_spans(
        self, zone: str, after: datetime, until: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The zone's open spans (UTC, sorted, merged) that end after ``after`` and start
        before ``until``."""
        info = _zone(zone)
        first = after.astimezone(info).date() - timedelta(days=1)
        spans: list[tuple[datetime, datetime]] = []
        for offset in range((until - after).days + 3):
            day = first + timedelta(days=offset)
            if day in self.closed_dates:
                continue
            for h in self.hours:
                if day.isoweekday() not in h.days:
                    continue
                start = _instant(day, h.start, info)
                end = _instant(day, h.end, info) - timedelta(seconds=self.stop_before_end_seconds)
                if end > start and end > after and start < until:
                    spans.append((start, end))
        spans.sort()
        merged: list[tuple[datetime, datetime]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged


def _instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``minutes`` after local midnight of ``day`` (24:00 is the next
    midnight)."""
    extra, minutes = divmod(minutes, _DAY_MINUTES)
    local = datetime.combine(day + timedelta(days=extra), time(minutes // 60, minutes % 60))
    return local.replace(tzinfo=zone).astimezone(UTC)


def _date(field: str, value: object) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is None:
        raise InvalidValue(field, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(field, "must be a date YYYY-MM-DD") from None


def zone_key(zones: Sequence[str]) -> str:
    """The read model's form of a set of zones: their names, sorted, joined by spaces."""
    return " ".join(sorted(zones))
