"""The read side the API calls: every query scoped by customer, answered in wire form."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.errors import InvalidValue
from domain.plan import DESTINATION_SLOTS, Plan
from domain.timeline import NOT_DELETED, format_timestamp, parse_timestamp
from projections.readmodel import (
    COLUMNS,
    DIAL_FIELDS,
    OUTDIAL_FIELDS,
    TARGET_FIELDS,
    ReadModelView,
    Row,
    wire,
)

PAGE_SIZE_MAX = 100


class InvalidPageToken(InvalidValue):
    reason = "INVALID_PAGE_TOKEN"

    def __init__(self) -> None:
        super().__init__("page_token", "was not issued by this service for this list")


@dataclass(frozen=True)
class Page:
    result: list[dict[str, Any]]
    next_page_token: str  # "" when there is no further page


class PageCursor:
    """Opaque page tokens: the (time, id) of the last item shown, bound to one list.

    Newest first by (time, id) descending, so items sharing a time are neither skipped
    nor repeated. A checksum rejects tokens this service did not issue.
    """

    _SALT = b"outdial-page-token-v1"

    @classmethod
    def issue(cls, scope: str, moment: str, row_id: str) -> str:
        body = json.dumps([moment, row_id], separators=(",", ":")).encode()
        mac = cls._mac(scope, body)
        return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")

    @classmethod
    def read(cls, scope: str, token: str) -> tuple[str, str]:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            mac, body = raw[:8], raw[8:]
            if mac != cls._mac(scope, body):
                raise InvalidPageToken
            moment, row_id = json.loads(body)
        except (ValueError, TypeError) as error:
            raise InvalidPageToken from error
        if not isinstance(moment, str) or not isinstance(row_id, str):
            raise InvalidPageToken
        return moment, row_id

    @classmethod
    def _mac(cls, scope: str, body: bytes) -> bytes:
        return hashlib.sha256(cls._SALT + scope.encode() + b"\0" + body).digest()[:8]


# VoIPbin's own page tokens are the sort time of the last item shown: the wire form, or
# the ISO 8601 form its servers also write (2022-04-28T01:41:40.503790Z).
_VOIPBIN_TOKEN = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?$")


def voipbin_token_time(token: str) -> str | None:
    """The wire time a VoIPbin-style token names, or None when it is not one."""
    if not _VOIPBIN_TOKEN.match(token):
        return None
    try:
        return format_timestamp(parse_timestamp(token))
    except ValueError:
        return None


class ReadModelQueries:
    def __init__(self, view: ReadModelView) -> None:
        self.view = view

    # -- outdials ---------------------------------------------------------------

    def get_outdial(self, customer_id: UUID, outdial_id: UUID) -> dict[str, Any] | None:
        row = self._one(
            "SELECT * FROM outdials WHERE id = :id AND customer_id = :customer",
            {"id": str(outdial_id), "customer": str(customer_id)},
        )
        return None if row is None else wire(row, OUTDIAL_FIELDS)

    def page_outdials(self, customer_id: UUID, *, page_size: int, page_token: str = "") -> Page:
        return self._page(
            "outdials",
            "customer_id = :customer AND tm_delete = :live",
            {"customer": str(customer_id), "live": NOT_DELETED},
            time_column="tm_create",
            fields=OUTDIAL_FIELDS,
            scope=f"outdials:{customer_id}",
            page_size=page_size,
            page_token=page_token,
        )

    # -- targets ----------------------------------------------------------------

    def get_target(
        self, customer_id: UUID, outdial_id: UUID, target_id: UUID
    ) -> dict[str, Any] | None:
        row = self._one(
            "SELECT * FROM targets WHERE id = :id AND outdial_id = :outdial "
            "AND customer_id = :customer",
            {"id": str(target_id), "outdial": str(outdial_id), "customer": str(customer_id)},
        )
        return None if row is None else wire(row, TARGET_FIELDS)

    def page_targets(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        *,
        page_size: int,
        page_token: str = "",
        status: str | None = None,
        include_deleted: bool = False,
    ) -> Page:
        where = ["outdial_id = :outdial", "customer_id = :customer"]
        params: dict[str, Any] = {"outdial": str(outdial_id), "customer": str(customer_id)}
        if status is not None:
            where.append("status = :status")
            params["status"] = status
        if not include_deleted:
            where.append("tm_delete = :live")
            params["live"] = NOT_DELETED
        scope = f"targets:{customer_id}:{outdial_id}:{status}:{include_deleted}"
        return self._page(
            "targets",
            " AND ".join(where),
            params,
            time_column="tm_create",
            fields=TARGET_FIELDS,
            scope=scope,
            page_size=page_size,
            page_token=page_token,
        )

    def available_targets(
        self, customer_id: UUID, outdial_id: UUID, *, plan: Plan, now: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Targets that may be dialed now under ``plan`` (SPEC §4), oldest tm_update first."""
        outdial = self.get_outdial(customer_id, outdial_id)
        if outdial is None or outdial["tm_delete"] != NOT_DELETED:
            return []
        eligible = " OR ".join(
            f"(destination_{n} IS NOT NULL AND try_count_{n} < :max_{n})"
            for n in range(DESTINATION_SLOTS)
        )
        params: dict[str, Any] = {
            "outdial": str(outdial_id),
            "customer": str(customer_id),
            "live": NOT_DELETED,
            "ready": format_timestamp(now - timedelta(milliseconds=plan.try_interval)),
            "limit": limit,
            **{f"max_{n}": plan.max_try_count(n) for n in range(DESTINATION_SLOTS)},
        }
        rows = self._all(
            "SELECT * FROM targets WHERE outdial_id = :outdial AND customer_id = :customer "
            "AND status = 'idle' AND tm_delete = :live "
            f"AND ({eligible}) "
            "AND (last_dial_end IS NULL OR last_dial_end <= :ready) "
            "ORDER BY tm_update, id LIMIT :limit",
            params,
        )
        return [wire(r, TARGET_FIELDS) for r in rows]

    # -- dials ------------------------------------------------------------------

    def dials_of_target(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        target_id: UUID,
        *,
        page_size: int,
        page_token: str = "",
    ) -> Page:
        return self._page(
            "dials",
            "outdial_target_id = :target AND outdial_id = :outdial AND customer_id = :customer",
            {"target": str(target_id), "outdial": str(outdial_id), "customer": str(customer_id)},
            time_column="tm_start",
            fields=DIAL_FIELDS,
            scope=f"dials:{customer_id}:{outdial_id}:{target_id}",
            page_size=page_size,
            page_token=page_token,
        )

    def search_dials(
        self,
        customer_id: UUID,
        *,
        outdial_id: UUID | None = None,
        target_id: UUID | None = None,
        destination: str | None = None,
        result: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = PAGE_SIZE_MAX,
        page_token: str = "",
    ) -> Page:
        """Audit search over the customer's attempts; ``since`` inclusive, ``until`` exclusive."""
        where = ["customer_id = :customer"]
        params: dict[str, Any] = {"customer": str(customer_id)}
        filters: list[tuple[str, str, Any]] = [
            ("outdial_id = :outdial", "outdial", outdial_id and str(outdial_id)),
            ("outdial_target_id = :target", "target", target_id and str(target_id)),
            ("destination_target = :destination", "destination", destination),
            ("result = :result", "result", result),
            ("tm_start >= :since", "since", since and format_timestamp(since)),
            ("tm_start < :until", "until", until and format_timestamp(until)),
        ]
        for clause, name, value in filters:
            if value is not None:
                where.append(clause)
                params[name] = value
        scope = "audit:" + json.dumps([str(customer_id), *(f[2] for f in filters)])
        return self._page(
            "dials",
            " AND ".join(where),
            params,
            time_column="tm_start",
            fields=DIAL_FIELDS,
            scope=scope,
            page_size=page_size,
            page_token=page_token,
        )

    def overdue_dials(self, now: datetime, limit: int = 100) -> list[tuple[UUID, UUID]]:
        """(target id, dial id) of dials still progressing past their plan's dial_timeout."""
        rows = self._all(
            "SELECT outdial_target_id, id FROM dials WHERE status = 'progressing' "
            "AND timeout_at <= :now ORDER BY timeout_at LIMIT :limit",
            {"now": format_timestamp(now), "limit": limit},
        )
        return [(UUID(r["outdial_target_id"]), UUID(r["id"])) for r in rows]

    # -- internals --------------------------------------------------------------

    def _page(
        self,
        table: str,
        where: str,
        params: dict[str, Any],
        *,
        time_column: str,
        fields: tuple[str, ...],
        scope: str,
        page_size: int,
        page_token: str,
    ) -> Page:
        assert time_column in COLUMNS[table]
        page_size = page_size if 1 <= page_size <= PAGE_SIZE_MAX else PAGE_SIZE_MAX
        params = {**params, "limit": page_size + 1}
        before = voipbin_token_time(page_token)
        if before is not None:
            # VoIPbin's semantics: strictly before that time, skipping items that share it.
            where += f" AND {time_column} < :after_time"
            params["after_time"] = before
        elif page_token:
            moment, last_id = PageCursor.read(scope, page_token)
            where += (
                f" AND ({time_column} < :after_time "
                f"OR ({time_column} = :after_time AND id < :after_id))"
            )
            params.update(after_time=moment, after_id=last_id)
        rows = self._all(
            f"SELECT * FROM {table} WHERE {where} "
            f"ORDER BY {time_column} DESC, id DESC LIMIT :limit",
            params,
        )
        shown = rows[:page_size]
        token = ""
        if len(rows) > page_size:
            token = PageCursor.issue(scope, shown[-1][time_column], shown[-1]["id"])
        return Page(result=[wire(r, fields) for r in shown], next_page_token=token)

    def _one(self, statement: str, params: dict[str, Any]) -> Row | None:
        rows = self._all(statement, params)
        return rows[0] if rows else None

    def _all(self, statement: str, params: dict[str, Any]) -> list[Row]:
        with self.view.reading() as rows:
            return rows.select(statement, params)
