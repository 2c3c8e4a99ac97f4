"""Pages of the read model: newest first by (time, id), with opaque tokens bound to a list.

Ordering by (time, id) descending means items sharing a time (a bulk import) are neither
skipped nor repeated. VoIPbin's own token form, a bare time, is read too: it lists what
sorts strictly before that time, VoIPbin's meaning.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from uuid import UUID

from domain.errors import InvalidValue
from domain.text import check_plain_text
from domain.timeline import format_timestamp, parse_timestamp
from projections.schema import Row

PAGE_SIZE_MAX = 100
_MAC_BYTES = 16
_WIRE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}")


class InvalidPageToken(InvalidValue):
    reason = "INVALID_PAGE_TOKEN"

    def __init__(self) -> None:
        super().__init__("page_token", "was not issued by this service for this list")


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    next_page_token: str  # "" when there is no further page


@dataclass(frozen=True)
class After:
    """Where a page starts: after (time, id), or strictly before a time when id is None."""

    time: str
    row_id: str | None


class PageTokens:
    """The service's own tokens: the (time, id) of the last item shown, signed (HMAC) with
    the store's secret over the list they belong to, so a token of another list, another
    store or of nobody's making is refused before anything in it is used."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, scope: str, moment: str, row_id: str) -> str:
        body = json.dumps([moment, row_id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._mac(scope, body) + body).decode().rstrip("=")

    def read(self, scope: str, token: str) -> After:
        """Where the page of ``token`` starts; VoIPbin's time tokens are read as well."""
        before = voipbin_token_time(token)
        if before is not None:
            return After(time=before, row_id=None)
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4))
            mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
            if not hmac.compare_digest(mac, self._mac(scope, body)):
                raise InvalidPageToken
            moment, row_id = json.loads(body)
        except (ValueError, TypeError) as error:
            raise InvalidPageToken from error
        if not (_is_wire_time(moment) and _is_id(row_id)):
            raise InvalidPageToken  # signed, yet not what this service issues
        return After(time=moment, row_id=row_id)

    def _mac(self, scope: str, body: bytes) -> bytes:
        key = scope.encode("utf-8", "surrogatepass") + b"\0" + body
        return hmac.new(self._secret, key, hashlib.sha256).digest()[:_MAC_BYTES]


def _is_wire_time(value: object) -> bool:
    return isinstance(value, str) and _WIRE_TIME.fullmatch(value) is not None


def _is_id(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        check_plain_text("page_token", value)
        return str(UUID(value)) == value
    except (ValueError, InvalidValue):
        return False


# VoIPbin's tokens are the sort time of the last item shown: the wire form, or the
# ISO 8601 form its servers also write (2022-04-28T01:41:40.503790Z).
_VOIPBIN_TOKEN = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?")


def voipbin_token_time(token: str) -> str | None:
    """The wire time a VoIPbin-style token names, or None when it is not one."""
    if not _VOIPBIN_TOKEN.fullmatch(token):
        return None
    try:
        return format_timestamp(parse_timestamp(token))
    except ValueError:
        return None


def clamp_page_size(page_size: int | None) -> int:
    """A page size outside 1..100 is read as 100 rather than refused."""
    if page_size is None or not 1 <= page_size <= PAGE_SIZE_MAX:
        return PAGE_SIZE_MAX
    return page_size
