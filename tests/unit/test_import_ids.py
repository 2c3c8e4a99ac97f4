"""The ids made for targets: an import's UUIDv8s that sort by outdial tag, then line, and the
service's UUIDv7s that sort by time."""

from __future__ import annotations

import time
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from application.ids import sorted_random_id
from application.importing import sortable_id

tags = st.integers(0, 2**32 - 1)
lines = st.integers(1, 2**44 - 1)
rests = st.integers(0, 2**46 - 1)


@given(tags, lines, rests)
def test_an_id_is_a_uuid_v8_of_the_rfc_variant(tag: int, line: int, rest: int) -> None:
    uuid = UUID(int=sortable_id(tag, line, rest))
    assert uuid.version == 8
    assert uuid.variant == "specified in RFC 4122"


@given(tags, lines, rests, lines, rests)
def test_ids_sort_by_line_as_numbers_and_as_text(
    tag: int, line: int, rest: int, other_line: int, other_rest: int
) -> None:
    ids = [UUID(int=sortable_id(tag, n, r)) for n, r in ((line, rest), (other_line, other_rest))]
    if line != other_line:
        assert (ids[0] < ids[1]) == (line < other_line)
        assert (str(ids[0]) < str(ids[1])) == (line < other_line)
        assert (ids[0].hex < ids[1].hex) == (line < other_line)


@given(tags, lines, rests, rests)
def test_rows_of_one_line_differ_by_the_rest(tag: int, line: int, rest: int, other: int) -> None:
    assert (sortable_id(tag, line, rest) == sortable_id(tag, line, other)) == (rest == other)


def test_ids_the_service_makes_are_uuid_v7s_that_sort_by_time() -> None:
    made = []
    for _ in range(3):
        made.append(sorted_random_id())
        time.sleep(0.002)  # the behaviour: an id of the next millisecond sorts after
    assert [u.version for u in made] == [7, 7, 7]
    assert made == sorted(made)
    assert len({sorted_random_id() for _ in range(1000)}) == 1000
