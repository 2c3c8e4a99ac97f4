"""Page tokens: what the service issued reads back; nothing else does."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.paging import InvalidPageToken, PageTokens

SECRET = b"s" * 32
TIME = "2026-01-01 09:00:00.000000"
ROW = "0190a8c2-5d1e-7a3b-8c4d-5e6f7a8b9c0d"


def test_an_issued_token_reads_back_for_its_list_only() -> None:
    tokens = PageTokens(SECRET)
    token = tokens.issue("list", TIME, ROW)
    after = tokens.read("list", token)
    assert (after.time, after.row_id) == (TIME, ROW)
    with pytest.raises(InvalidPageToken):
        tokens.read("another list", token)
    with pytest.raises(InvalidPageToken):
        PageTokens(b"t" * 32).read("list", token)


@given(st.binary(min_size=1, max_size=200))
def test_no_other_bytes_are_a_token(raw: bytes) -> None:
    tokens = PageTokens(SECRET)
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(InvalidPageToken):
        tokens.read("list", token)


@pytest.mark.parametrize(
    ("moment", "row_id"),
    [(TIME, "\ud800"), (TIME, "a\x00b"), ("\x85", ROW), (TIME, ROW.upper()), (TIME, 5), (1, ROW)],
)
def test_a_signed_token_holding_what_the_service_never_issues_is_refused(
    moment: object, row_id: object
) -> None:
    tokens = PageTokens(SECRET)
    body = json.dumps([moment, row_id]).encode("utf-8", "surrogatepass")
    token = base64.urlsafe_b64encode(tokens._mac("list", body) + body).decode()
    with pytest.raises(InvalidPageToken):
        tokens.read("list", token)


def test_voipbin_time_tokens_are_read_whole() -> None:
    tokens = PageTokens(SECRET)
    assert tokens.read("list", "2022-04-30 17:52:16.484341").row_id is None
    assert tokens.read("list", "2022-04-28T01:41:40.503790Z").time == "2022-04-28 01:41:40.503790"
    with pytest.raises(InvalidPageToken):
        tokens.read("list", "2022-04-30 17:52:16.484341\n")
