"""`outdial dnc import|export`: a customer's do-not-call list from a CSV file, and out as
CSV (which imports again) or JSON Lines (each line the API's wire object).

The import reads strict CSV as `outdial import` does (api/cli/rows.py) and checks every
row before anything is written: the target and its match, the outdial (one of the
customer's, or empty for every outdial), the reason (plain text, at most 255 characters)
and the expiry (a future time, or empty for never). The use case writes a batch at a time
(application/importing.py ``import_do_not_call``); an entry's id follows from its
customer, target, match and outdial, so a run again adds nothing twice. Each row says the
whole entry: an empty reason is "", an empty expiry never.

Reason cells that a spreadsheet would run as a formula are quoted on export and unquoted
on import, as for targets (rows.py ``spreadsheet_cell``, ``text_of_cell``); a target is
written as it is (``+821100000001``).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

import orjson

from api import presenters
from api.bootstrap import Services, bootstrap
from api.cli.importing import ProgressBar, report_bad_rows
from api.cli.rows import (
    Problem,
    Row,
    Unreadable,
    check_rows,
    columns_of,
    lines_of,
    named_twice,
    spreadsheet_cell,
    text_of_cell,
)
from api.settings import Settings
from api.workers.import_projection import ImportProjection
from application.errors import REFUSALS, OutdialNotFound
from application.importing import import_do_not_call
from application.service import NewEntry, OutdialService
from domain.do_not_call import EVERY_OUTDIAL, MATCHES, checked_entry_target
from domain.errors import InvalidValue
from domain.text import check_plain_text, checked_name
from domain.timeline import parse_timestamp
from projections.paging import PAGE_SIZE_MAX

COLUMNS = ("target", "match", "outdial_id", "reason", "expires_at")
# What the export writes: the import's columns first, then what the list shows of each.
EXPORT_COLUMNS = [*COLUMNS, "id", "actor", "tm_create", "tm_update", "tm_delete"]


# -- import ------------------------------------------------------------------------------


def import_file(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"outdial dnc import: no file {path}", file=sys.stderr)
        return 2
    with bootstrap(settings) as services:
        along = ImportProjection(services)
        try:
            along.start()  # its projection process starts while the rows are checked
            return _import(services, along, path, args)
        finally:
            along.close()


def _import(
    services: Services, along: ImportProjection, path: Path, args: argparse.Namespace
) -> int:
    service = services.service
    rows = EntryRows(service, args.customer_id, service.clock())
    try:
        header = _header_of(path)
        if isinstance(header, str):
            print(f"outdial dnc import: {header}", file=sys.stderr)
            return 1
        ignored = [c for c in header if c not in COLUMNS]
        if ignored:
            print(f"outdial dnc import: ignoring columns {', '.join(ignored)}", file=sys.stderr)
        problems, valid = rows.check(path)
    except Unreadable as error:
        print(f"outdial dnc import: {error}; nothing imported", file=sys.stderr)
        return 1
    if problems and not args.skip_invalid:
        report_bad_rows("outdial dnc import", problems)
        return 1
    began = time.monotonic()
    with path.open(newline="", encoding="utf-8-sig") as file, ProgressBar(valid) as advance:
        try:
            written = import_do_not_call(
                service,
                args.customer_id,
                rows.entries(file),
                batch_size=args.batch_size,
                along=along,
                advance=advance,
            )
        except REFUSALS as error:
            print(f"outdial dnc import: stopped: {error}", file=sys.stderr)
            return 1
    took = time.monotonic() - began
    listed = "; skipped bad lines " + ", ".join(str(p.line) for p in problems) if problems else ""
    print(
        f"imported {written} do-not-call entries for customer {args.customer_id} in "
        f"{took:.1f} s; those already as the file says recorded nothing{listed}",
        file=sys.stderr,
    )
    return 0


def _header_of(path: Path) -> list[str] | str:
    """The file's column names, or what is wrong with them; Unreadable when it cannot be
    read."""
    header = columns_of(path)
    if not header:
        return "the file is empty: it needs a header row (target, match, outdial_id, ...)"
    twice = named_twice(header, COLUMNS)
    if twice:
        return twice
    if "target" not in header:
        return "the header has no target column"
    return header


class EntryRows:
    """The rows of a do-not-call list as the customer's entries, each checked."""

    def __init__(self, service: OutdialService, customer_id: UUID, now: datetime) -> None:
        self._service = service
        self._customer = customer_id
        self._now = now
        self._outdials: dict[str, UUID | None] = {}  # cell -> outdial id, None: not theirs

    def check(self, path: Path) -> tuple[list[Problem], int]:
        """Every row checked: the bad ones by line, field and reason, and how many are
        good; Unreadable when a line cannot be read."""
        return check_rows(path, self.entry)

    def entries(self, file: TextIO) -> Iterator[NewEntry]:
        """The entry of each valid row (the check refused the bad ones, or they are
        skipped)."""
        for _, row in lines_of(file):
            try:
                yield self.entry(row)
            except InvalidValue:
                continue

    def entry(self, row: Row) -> NewEntry:
        """The row's entry; InvalidValue names the first cell at fault."""
        if None in row:
            used, width = row[None]
            raise InvalidValue("", f"has {used} cells, the header has {width}")
        match = (row.get("match") or "").strip() or "exact"
        if match not in MATCHES:
            raise InvalidValue("match", "must be exact or prefix")
        target = checked_entry_target((row.get("target") or "").strip(), match)
        return NewEntry(
            target=target,
            match=match,
            outdial_id=self._outdial(row.get("outdial_id") or ""),
            reason=checked_name(text_of_cell(row.get("reason") or ""), "reason"),
            expires_at=self._expiry(row.get("expires_at") or ""),
            keep_expiry=False,
        )

    def _outdial(self, cell: str) -> UUID:
        cell = cell.strip()
        if not cell:
            return EVERY_OUTDIAL
        if cell not in self._outdials:
            self._outdials[cell] = self._customers_outdial(cell)
        found = self._outdials[cell]
        if found is None:
            raise InvalidValue("outdial_id", f"no outdial {cell} of customer {self._customer}")
        return found

    def _customers_outdial(self, cell: str) -> UUID | None:
        try:
            outdial_id = UUID(cell)
        except ValueError:
            raise InvalidValue("outdial_id", "is not a UUID") from None
        if outdial_id == EVERY_OUTDIAL:
            return outdial_id
        try:
            self._service.get_outdial(self._customer, outdial_id)
        except OutdialNotFound:
            return None
        return outdial_id

    def _expiry(self, cell: str) -> datetime | None:
        cell = cell.strip()
        if not cell:
            return None
        try:
            expires_at = parse_timestamp(cell)
        except (ValueError, OverflowError):
            raise InvalidValue(
                "expires_at", "must be a time such as 2027-01-01 00:00:00.000000"
            ) from None
        if expires_at <= self._now:
            raise InvalidValue("expires_at", "must lie in the future")
        return expires_at


# -- export ------------------------------------------------------------------------------


def export(settings: Settings, args: argparse.Namespace) -> int:
    if args.target is not None:
        try:
            check_plain_text("--target", args.target)
        except InvalidValue as error:
            print(f"outdial dnc export: {error}", file=sys.stderr)
            return 2
    with ExitStack() as stack:
        services = stack.enter_context(bootstrap(settings))
        queries, now = services.read_model.queries, services.service.clock()

        def rows() -> Iterator[dict[str, Any]]:
            token = ""
            while True:
                page = queries.page_do_not_call(
                    args.customer_id,
                    target=args.target,
                    outdial_id=args.outdial_id,
                    include_deleted=args.include_deleted,
                    now=now,
                    page_size=PAGE_SIZE_MAX,
                    page_token=token,
                )
                yield from (presenters.do_not_call_row(row) for row in page.rows)
                token = page.next_page_token
                if not token:
                    return

        out: TextIO = (
            stack.enter_context(open(args.output, "w", newline="", encoding="utf-8"))
            if args.output
            else sys.stdout
        )
        written = _write(out, args.format, rows())
    if args.output:
        print(f"exported {written} do-not-call entries to {args.output}", file=sys.stderr)
    return 0


def _write(out: TextIO, kind: str, entries: Iterator[dict[str, Any]]) -> int:
    written = 0
    if kind == "jsonl":
        for entry in entries:
            out.write(orjson.dumps(entry).decode() + "\n")
            written += 1
        return written
    # CR LF ends a row (RFC 4180), as `outdial export` writes: a lone CR stays in its cell.
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow(
            {
                **entry,
                "reason": spreadsheet_cell(entry["reason"]),
                "expires_at": entry["expires_at"] or "",
            }
        )
        written += 1
    return written
