"""The event transcoder writes the library's JSON to the byte and reads it back the same,
for any value the domain could hand it (and falls back where orjson would differ)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from eventsourcing.persistence import JSONTranscoder
from hypothesis import given, settings
from hypothesis import strategies as st

from application.service import OutdialService
from domain.address import Address


class Colour(enum.StrEnum):
    RED = "red"


def _transcoders() -> tuple[JSONTranscoder, JSONTranscoder]:
    ours = OutdialService().mapper.transcoder
    assert isinstance(ours, JSONTranscoder)
    library = JSONTranscoder()
    for transcoding in ours.types.values():
        library.register(transcoding)
    return ours, library


OURS, LIBRARY = _transcoders()

zones = st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(minutes=-210))])
texts = st.text(st.characters(codec="utf-8")) | st.text()  # the second has surrogates
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | texts
    | st.uuids()
    | st.datetimes(timezones=zones)
    | st.just(Colour.RED)
    | st.builds(Address, texts, texts, texts)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(texts, inner, max_size=4)
        | st.dictionaries(st.integers(0, 9), inner, max_size=2)
        | st.fixed_dictionaries({"_type_": texts, "_data_": inner})
    ),
    max_leaves=12,
)


def _outcome(transcoder: JSONTranscoder, value: Any) -> bytes | type[BaseException]:
    try:
        return transcoder.encode(value)
    except Exception as error:  # the same refusal, by type
        return type(error)


@settings(max_examples=300)
@given(values)
def test_what_is_written_is_the_librarys_bytes(value: Any) -> None:
    assert _outcome(OURS, value) == _outcome(LIBRARY, value)


def _read(transcoder: JSONTranscoder, data: bytes) -> Any:
    try:
        return ("value", transcoder.decode(data))
    except Exception as error:
        return ("refused", type(error))


@settings(max_examples=300)
@given(values)
def test_what_is_read_is_what_the_library_reads(value: Any) -> None:
    written = _outcome(LIBRARY, value)
    if not isinstance(written, bytes):
        return
    ours, library = _read(OURS, written), _read(LIBRARY, written)
    if ours[0] == "value" and library[0] == "value":
        # NaN is not equal to itself: compare what each read writes again.
        assert LIBRARY.encode(ours[1]) == LIBRARY.encode(library[1])
    else:
        assert ours == library


def test_an_event_is_written_and_read_as_before() -> None:
    at = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    state = {"timestamp": at, "destinations": [Address("tel", "+821100000001"), None], "n": 3}
    assert OURS.encode(state) == LIBRARY.encode(state)
    assert OURS.decode(OURS.encode(state)) == LIBRARY.decode(LIBRARY.encode(state))
