"""The read side the API calls: every query scoped by customer, answering decoded rows."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Collection
from datetime import datetime
from operator import itemgetter
from typing import Any
from uuid import UUID

import orjson

from domain.address import is_e164
from domain.calling_window import CallingWindow
from domain.do_not_call import EVERY_OUTDIAL, PREFIX_MIN
from domain.plan import Plan
from domain.timeline import NOT_DELETED, format_timestamp, parse_timestamp
from projections.available import Window, available_statement
from projections.paging import Page, PageTokens, clamp_page_size
from projections.rows import in_list, postgres_placeholders
from projections.schema import (
    COLUMNS,
    DESTINATIONS,
    DIALS,
    DO_NOT_CALL,
    ERASED_TARGETS,
    ERASURES,
    LIVE_TARGET,
    OUTDIALS,
    TARGET_ADDRESSES,
    TARGETS,
    Row,
    decode_row,
)
from projections.store import ReadModelView

PAGE_TOKEN_SECRET = "page_tokens"
# Ids named in one statement at most.
_IDS_MAX = 500
# Folds A-Z only: what SQLite's lower() does, and PostgreSQL's under COLLATE "C".
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class ReadModelQueries:
    def __init__(self, view: ReadModelView) -> None:
        self.view = view
        self._tokens = PageTokens(view.secret(PAGE_TOKEN_SECRET))
        self._cursors = Cursors()

    # -- outdials ---------------------------------------------------------------

    def get_outdial(self, customer_id: UUID, outdial_id: UUID) -> Row | None:
        return self._one(
            "SELECT * FROM outdials WHERE id = :id AND customer_id = :customer",
            {"id": str(outdial_id), "customer": str(customer_id)},
        )

    def outdial_plan(self, customer_id: UUID, outdial_id: UUID) -> Plan | None:
        """The outdial's own plan, or None when the customer has no such outdial."""
        row = self.get_outdial(customer_id, outdial_id)
        return None if row is None else Plan.from_dict(row["plan"])

    def page_outdials(self, customer_id: UUID, *, page_size: int, page_token: str = "") -> Page:
        return self._page(
            OUTDIALS,
            "customer_id = :customer AND tm_delete = :live",
            {"customer": str(customer_id), "live": NOT_DELETED},
            time_column="tm_create",
            scope=f"outdials:{customer_id}",
            page_size=page_size,
            page_token=page_token,
        )

    def target_counts(
        self, customer_id: UUID, outdial_ids: list[UUID]
    ) -> dict[str, dict[str, int]]:
        """Live targets of each of these outdials by status: {outdial id: {status: count}}."""
        if not outdial_ids:
            return {}
        marks, params = in_list("o", (str(o) for o in outdial_ids))
        params.update(customer=str(customer_id))
        counts: dict[str, dict[str, int]] = {str(o): {} for o in outdial_ids}
        for row in self.view.query(
            "SELECT outdial_id, status, COUNT(*) AS n FROM targets "
            f"WHERE outdial_id IN ({marks}) AND customer_id = :customer AND {LIVE_TARGET} "
            "GROUP BY outdial_id, status",
            params,
        ):
            counts[row["outdial_id"]][row["status"]] = int(row["n"])
        return counts

    # -- targets ----------------------------------------------------------------

    def get_target(self, customer_id: UUID, outdial_id: UUID, target_id: UUID) -> Row | None:
        return self._one(
            "SELECT * FROM targets WHERE id = :id AND outdial_id = :outdial "
            "AND customer_id = :customer",
            {"id": str(target_id), "outdial": str(outdial_id), "customer": str(customer_id)},
        )

    def page_targets(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        *,
        page_size: int,
        page_token: str = "",
        status: str | None = None,
        include_deleted: bool = False,
        search: str | None = None,
    ) -> Page:
        """``search``: targets whose name holds it (ASCII letters in any case) or one of
        whose destinations' target is exactly it; the same answer on both stores."""
        where = ["outdial_id = :outdial", "customer_id = :customer"]
        params: dict[str, Any] = {"outdial": str(outdial_id), "customer": str(customer_id)}
        scope = f"targets:{customer_id}:{outdial_id}:{status}:{include_deleted}"
        if status is not None:
            where.append("status = :status")
            params["status"] = status
        if not include_deleted:
            where.append(LIVE_TARGET)
        if search is not None:
            where.append(self._search_clause())
            params["name_part"] = search.translate(_ASCII_LOWER)
            # Destinations are orjson's text of the address: its target field, whole.
            params["address_part"] = '"target":' + orjson.dumps(search).decode()
            scope += ":" + json.dumps(search)  # tokens of searches made before stay valid
        return self._page(
            TARGETS,
            " AND ".join(where),
            params,
            time_column="tm_create",
            scope=scope,
            page_size=page_size,
            page_token=page_token,
        )

    def _search_clause(self) -> str:
        # Neither store has the other's substring function, nor folds case the same way
        # by default: SQLite's lower() folds ASCII only, PostgreSQL's only under "C".
        if self._on_postgres:
            name, holds = 'lower(name COLLATE "C")', "strpos"
        else:
            name, holds = "lower(name)", "instr"
        either = [f"{holds}({name}, :name_part) > 0"]
        either += [f"{holds}({column}, :address_part) > 0" for column in DESTINATIONS]
        return "(" + " OR ".join(either) + ")"

    @property
    def _on_postgres(self) -> bool:
        return self.view.placeholders is postgres_placeholders

    def target_names(self, customer_id: UUID, target_ids: list[UUID]) -> dict[str, Row]:
        """What names the targets of a page of dials, in one query: {target id: its
        ``name``, ``destination_0``..``destination_4`` and its outdial's ``outdial_name``};
        only the customer's targets."""
        if not target_ids:
            return {}
        marks, params = in_list("t", (str(t) for t in sorted(set(target_ids))))
        params["customer"] = str(customer_id)
        destinations = ", ".join(f"t.{column}" for column in DESTINATIONS)
        rows = self._all(
            f"SELECT t.id, t.name, {destinations}, o.name AS outdial_name FROM targets t "
            "JOIN outdials o ON o.id = t.outdial_id AND o.customer_id = t.customer_id "
            f"WHERE t.customer_id = :customer AND t.id IN ({marks})",
            params,
        )
        return {row["id"]: row for row in rows}

    def available_targets(
        self, customer_id: UUID, outdial_id: UUID, *, plan: Plan, now: datetime, limit: int
    ) -> list[Row]:
        """Targets that may be dialed now under ``plan``, oldest tm_update first.

        The read model's statement of ``Target.availability`` (projections/available.py):
        a live target of a live, running outdial, idle, whose next destination (the lowest
        eligible one not on the do-not-call list) is inside the calling window, and
        try_interval passed since its last dial ended; tests hold the two to the same
        answers.
        """
        return self._available(customer_id, outdial_id, plan, now, limit, "t.*")

    def _available(
        self,
        customer_id: UUID,
        outdial_id: UUID,
        plan: Plan,
        now: datetime,
        limit: int,
        columns: str,
        after: tuple[str, str] | None = None,
    ) -> list[Row]:
        # The outdial with what the statement is made of, in one query: its targets' zone
        # keys and its customer's prefix lengths (each a handful).
        joined = "group_concat({}, '|')" if not self._on_postgres else "string_agg({}, '|')"
        outdial = self._one(
            "SELECT o.tm_delete, o.status, o.calling_window, "
            f"(SELECT {joined.format('z.first || z.zones')} FROM outdial_zone_sets z "
            "WHERE z.outdial_id = o.id) AS zone_keys, "
            f"(SELECT {joined.format('CAST(p.length AS TEXT)')} "
            "FROM do_not_call_prefix_lengths p WHERE p.customer_id = o.customer_id) AS lengths "
            "FROM outdials o WHERE o.id = :id AND o.customer_id = :customer",
            {"id": str(outdial_id), "customer": str(customer_id)},
        )
        if outdial is None or outdial["tm_delete"] != NOT_DELETED or outdial["status"] != "running":
            return []
        window = None
        if outdial["calling_window"] is not None:
            # Each "1key" (a first destination's) or "0key" (a later one's).
            keys = [(k[1:], k[0] == "1") for k in (outdial["zone_keys"] or "").split("|") if k]
            window = Window.judged(CallingWindow.parse(outdial["calling_window"]), keys, now)
            if window is None:
                return []  # closed for every destination of the outdial
        lengths = [int(k) for k in (outdial["lengths"] or "").split("|") if k]
        statement, params = available_statement(
            customer_id,
            outdial_id,
            plan=plan,
            now=now,
            limit=limit,
            window=window,
            prefix_lengths=lengths,
            sqlite=not self._on_postgres,
            columns=columns,
            after=after,
        )
        rows = self._all(statement, params)
        for row in rows:  # what the walks of the targets sorted by, when they did
            row.pop("sort_time", None)
            row.pop("sort_id", None)
        return rows

    def available_target_ids(
        self, customer_id: UUID, outdial_id: UUID, *, plan: Plan, now: datetime, limit: int
    ) -> list[UUID]:
        """Dispatch's candidates: ids of ``available_targets``, oldest first from where the
        outdial's previous candidates of this process ended, then from the oldest again.

        A target that may not be dialed stays idle where it is in tm_update order (on the
        do-not-call list, say, or outside a window when no other can open): a walk from
        the oldest each time would pass over more of them with every claim, and each
        dispatcher of the process would be proposed the same oldest candidates."""
        key = (customer_id, outdial_id)
        after = self._cursors.get(key)
        columns = "t.id, t.tm_update"
        rows = self._available(customer_id, outdial_id, plan, now, limit, columns, after)
        if after is not None and len(rows) < limit:  # the end: the oldest again
            found = {row["id"] for row in rows}
            again = self._available(customer_id, outdial_id, plan, now, limit, columns)
            rows += [row for row in again if row["id"] not in found][: limit - len(rows)]
        self._cursors.put(key, (rows[-1]["tm_update"], rows[-1]["id"]) if rows else None)
        return [UUID(row["id"]) for row in rows]

    # -- the do-not-call list ---------------------------------------------------

    def get_do_not_call(self, customer_id: UUID, entry_id: UUID) -> Row | None:
        """The entry, also when removed; None when the customer has no such entry."""
        return self._one(
            "SELECT * FROM do_not_call WHERE id = :id AND customer_id = :customer",
            {"id": str(entry_id), "customer": str(customer_id)},
        )

    def page_do_not_call(
        self,
        customer_id: UUID,
        *,
        target: str | None = None,
        outdial_id: UUID | None = None,
        include_deleted: bool = False,
        now: datetime,
        page_size: int,
        page_token: str = "",
    ) -> Page:
        """The customer's entries, newest first. With ``target``: only those that block it
        now (not removed, not expired at ``now``): its exact entry and, for a number, every
        prefix of it, of every outdial, or with ``outdial_id`` of that outdial and of every
        outdial. Without: every entry (removed ones with ``include_deleted``), or those
        scoped to ``outdial_id``."""
        where = ["customer_id = :customer"]
        params: dict[str, Any] = {"customer": str(customer_id)}
        if target is not None:
            # What could block it, as the service reads it (candidate_entry_ids): its
            # exact entry, and for a number every prefix of it.
            keys = [target]
            matches = "match = 'exact'"
            if is_e164(target):
                keys += [target[:n] for n in range(PREFIX_MIN, len(target))]
                matches = "(match = 'prefix' OR target = :target)"
            marks = ", ".join(f":key_{n}" for n in range(len(keys)))
            params.update({f"key_{n}": key for n, key in enumerate(keys)})
            params.update(target=target, live=NOT_DELETED, now=format_timestamp(now))
            where += [
                f"target IN ({marks})",
                matches,
                "tm_delete = :live",
                "(expires_at IS NULL OR expires_at > :now)",
            ]
            if outdial_id is not None:
                where.append("outdial_id IN (:every_outdial, :outdial)")
                params.update(every_outdial=str(EVERY_OUTDIAL), outdial=str(outdial_id))
            scope = f"do_not_call:{customer_id}:{outdial_id}:blocking:" + json.dumps(target)
            # A handful of entries by index, then sorted: never the customer's whole list
            # in time order (SQLite's choice without statistics).
            source = f"{DO_NOT_CALL} INDEXED BY do_not_call_target"
        else:
            if outdial_id is not None:
                where.append("outdial_id = :outdial")
                params["outdial"] = str(outdial_id)
            if not include_deleted:
                where.append("tm_delete = :live")
                params["live"] = NOT_DELETED
            scope = f"do_not_call:{customer_id}:{outdial_id}:{include_deleted}"
            source = DO_NOT_CALL
        return self._page(
            DO_NOT_CALL,
            " AND ".join(where),
            params,
            time_column="tm_create",
            scope=scope,
            page_size=page_size,
            page_token=page_token,
            source=source if not self._on_postgres else DO_NOT_CALL,
        )

    # -- erasures ---------------------------------------------------------------

    def get_erasure(self, customer_id: UUID, erasure_id: UUID) -> Row | None:
        return self._one(
            f"SELECT * FROM {ERASURES} WHERE id = :id AND customer_id = :customer",
            {"id": str(erasure_id), "customer": str(customer_id)},
        )

    def page_erasures(
        self,
        customer_id: UUID,
        *,
        target_id: UUID | None = None,
        page_size: int,
        page_token: str = "",
    ) -> Page:
        """The customer's erasures, newest first; with ``target_id``, those that name it
        or erased its whole outdial."""
        where = "customer_id = :customer"
        params: dict[str, Any] = {"customer": str(customer_id)}
        if target_id is not None:
            found = self._one(
                f"SELECT outdial_id FROM {TARGETS} WHERE id = :id AND customer_id = :customer",
                {"id": str(target_id), "customer": str(customer_id)},
            )
            params.update(target=str(target_id), outdial=found["outdial_id"] if found else "")
            where += (
                f" AND (id IN (SELECT erasure_id FROM {ERASED_TARGETS} WHERE target_id = :target)"
                " OR outdial_id = :outdial)"
            )
        return self._page(
            ERASURES,
            where,
            params,
            time_column="tm_create",
            scope=f"erasures:{customer_id}:{target_id}",
            page_size=page_size,
            page_token=page_token,
        )

    def erased_target_ids(self) -> list[UUID]:
        """Every target any erasure erased, of every customer: a statement for those
        named, and one for each outdial erased whole (each found by its index)."""
        named = self.view.query(f"SELECT target_id FROM {ERASED_TARGETS}", {})
        found = {UUID(row["target_id"]) for row in named}
        wholes = self.view.query(
            f"SELECT customer_id, outdial_id FROM {ERASURES} WHERE outdial_id <> :named",
            {"named": str(EVERY_OUTDIAL)},
        )
        for whole in wholes:
            found.update(
                target_id
                for target_id, *_ in self.targets_of_outdial(
                    UUID(whole["customer_id"]), UUID(whole["outdial_id"])
                )
            )
        return sorted(found)

    def targets_with_address(self, customer_id: UUID, target: str) -> list[UUID]:
        """In two statements, each by its index whatever the planner knows of the tables
        (a join was planned as a scan of every target on a freshly loaded store)."""
        having = self.view.query(
            f"SELECT target_id FROM {TARGET_ADDRESSES} WHERE address = :address",
            {"address": target},
        )
        ids = sorted(row["target_id"] for row in having)
        found: list[UUID] = []
        for start in range(0, len(ids), _IDS_MAX):
            marks, params = in_list("t", ids[start : start + _IDS_MAX])
            params["customer"] = str(customer_id)
            rows = self.view.query(
                f"SELECT id FROM {TARGETS} WHERE id IN ({marks}) AND customer_id = :customer",
                params,
            )
            found += [UUID(row["id"]) for row in rows]
        return sorted(found)

    def targets_of_outdial(
        self, customer_id: UUID, outdial_id: UUID
    ) -> list[tuple[UUID, int, datetime, datetime | None]]:
        """(id, version, last change, deleted at or None) of every target of the outdial."""
        rows = self.view.query(
            f"SELECT id, version, tm_update, tm_delete FROM {TARGETS} "
            "WHERE outdial_id = :outdial AND customer_id = :customer",
            {"outdial": str(outdial_id), "customer": str(customer_id)},
        )
        # By id, sorted here: PostgreSQL's text collation sorted 100,000 ids in 0.17 s.
        rows.sort(key=itemgetter("id"))
        return [
            (
                UUID(row["id"]),
                row["version"],
                parse_timestamp(row["tm_update"]),
                None if row["tm_delete"] == NOT_DELETED else parse_timestamp(row["tm_delete"]),
            )
            for row in rows
        ]

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
            DIALS,
            "outdial_target_id = :target AND outdial_id = :outdial AND customer_id = :customer",
            {"target": str(target_id), "outdial": str(outdial_id), "customer": str(customer_id)},
            time_column="tm_start",
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
        reference_id: str | None = None,
        actor: str | None = None,
        result: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int | None = None,
        page_token: str = "",
    ) -> Page:
        """Audit search over the customer's attempts; ``since`` inclusive, ``until`` exclusive."""
        where = ["customer_id = :customer"]
        params: dict[str, Any] = {"customer": str(customer_id)}
        filters: list[tuple[str, str, Any]] = [
            ("outdial_id = :outdial", "outdial", outdial_id and str(outdial_id)),
            ("outdial_target_id = :target", "target", target_id and str(target_id)),
            ("destination_target = :destination", "destination", destination),
            ("reference_id = :reference", "reference", reference_id),
            ("actor = :actor", "actor", actor),
            ("result = :result", "result", result),
            ("tm_start >= :since", "since", since and format_timestamp(since)),
            ("tm_start < :until", "until", until and format_timestamp(until)),
        ]
        for clause, name, value in filters:
            if value is not None:
                where.append(clause)
                params[name] = value
        return self._page(
            DIALS,
            " AND ".join(where),
            params,
            time_column="tm_start",
            scope="audit:" + json.dumps([str(customer_id), *(f[2] for f in filters)]),
            page_size=page_size,
            page_token=page_token,
        )

    def dials_with_ids(
        self, customer_id: UUID, outdial_id: UUID, dial_ids: list[UUID]
    ) -> list[tuple[UUID, UUID]]:
        """(target id, dial id) of those of ``dial_ids`` that are dials of this outdial,
        in the order of ``dial_ids``."""
        if not dial_ids:
            return []
        marks, params = in_list("d", (str(d) for d in dial_ids))
        params.update(customer=str(customer_id), outdial=str(outdial_id))
        rows = self._all(
            "SELECT outdial_target_id, id FROM dials WHERE customer_id = :customer "
            f"AND outdial_id = :outdial AND id IN ({marks})",
            params,
        )
        found = {r["id"]: UUID(r["outdial_target_id"]) for r in rows}
        return [(found[str(d)], d) for d in dial_ids if str(d) in found]

    def overdue_dials(self, now: datetime, limit: int = 100) -> list[tuple[UUID, UUID]]:
        """(target id, dial id) of dials still progressing past their plan's dial_timeout."""
        rows = self._all(
            "SELECT outdial_target_id, id FROM dials WHERE status = 'progressing' "
            "AND timeout_at <= :now ORDER BY timeout_at LIMIT :limit",
            {"now": format_timestamp(now), "limit": limit},
        )
        return [(UUID(r["outdial_target_id"]), UUID(r["id"])) for r in rows]

    # -- internals --------------------------------------------------------------

    # -- the event feed ---------------------------------------------------------

    def owners_of(
        self, aggregate_ids: Collection[UUID]
    ) -> dict[UUID, tuple[str, UUID, UUID | None]]:
        """(aggregate, customer id, outdial id) of each of these targets, outdials,
        do-not-call entries and erasures (None: an entry of every outdial, an erasure of
        targets named), in up to four queries."""
        if not aggregate_ids:
            return {}
        ids = sorted(str(i) for i in aggregate_ids)
        marks, params = in_list("a", ids)
        found: dict[UUID, tuple[str, UUID, UUID | None]] = {}
        for aggregate, table, outdial in (
            ("target", TARGETS, "outdial_id"),
            ("outdial", OUTDIALS, "id"),
            ("do_not_call", DO_NOT_CALL, "outdial_id"),
            ("erasure", ERASURES, "outdial_id"),
        ):
            statement = (
                f"SELECT id, customer_id, {outdial} AS outdial FROM {table} WHERE id IN ({marks})"
            )
            for row in self.view.query(statement, params):
                outdial_id = UUID(row["outdial"])
                found[UUID(row["id"])] = (
                    aggregate,
                    UUID(row["customer_id"]),
                    None if outdial_id == EVERY_OUTDIAL else outdial_id,
                )
            if len(found) == len(ids):
                break
        return found

    def _page(
        self,
        table: str,
        where: str,
        params: dict[str, Any],
        *,
        time_column: str,
        scope: str,
        page_size: int | None,
        page_token: str,
        source: str | None = None,
    ) -> Page:
        """``source``: what the rows are read from, when not ``table`` as it is (SQLite's
        ``INDEXED BY``)."""
        assert time_column in COLUMNS[table]
        size = clamp_page_size(page_size)
        params = {**params, "limit": size + 1}
        if page_token:
            after = self._tokens.read(scope, page_token)
            if after.row_id is None:  # a VoIPbin time token: strictly before that time
                where += f" AND {time_column} < :after_time"
            else:
                where += (
                    f" AND ({time_column} < :after_time "
                    f"OR ({time_column} = :after_time AND id < :after_id))"
                )
                params["after_id"] = after.row_id
            params["after_time"] = after.time
        rows = self._all(
            f"SELECT * FROM {source or table} WHERE {where} "
            f"ORDER BY {time_column} DESC, id DESC LIMIT :limit",
            params,
        )
        shown = rows[:size]
        token = ""
        if len(rows) > size:
            token = self._tokens.issue(scope, shown[-1][time_column], shown[-1]["id"])
        return Page(rows=shown, next_page_token=token)

    def _one(self, statement: str, params: dict[str, Any]) -> Row | None:
        rows = self._all(statement, params)
        return rows[0] if rows else None

    def _all(self, statement: str, params: dict[str, Any]) -> list[Row]:
        return [decode_row(row) for row in self.view.query(statement, params)]


class Cursors:
    """Where each outdial's last dispatch candidates of this process ended: (tm_update, id)
    of the last, for the most recently used outdials."""

    SIZE = 1_024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._after: OrderedDict[tuple[UUID, UUID], tuple[str, str]] = OrderedDict()

    def get(self, key: tuple[UUID, UUID]) -> tuple[str, str] | None:
        with self._lock:
            return self._after.get(key)

    def put(self, key: tuple[UUID, UUID], after: tuple[str, str] | None) -> None:
        with self._lock:
            if after is None:
                self._after.pop(key, None)
                return
            self._after[key] = after
            self._after.move_to_end(key)
            while len(self._after) > self.SIZE:
                self._after.popitem(last=False)
