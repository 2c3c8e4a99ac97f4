"""`outdial export targets|dials`: the read model streamed out, as CSV (an exported targets
file imports again) or as JSON Lines (each line the API's wire object).

Rows are read a page at a time through the same queries, scoping and filters as the
API's lists, so any number of rows streams in constant memory.

CSV cells of free text (a target's name, detail and data, a destination's target_name,
name and detail, a dial's reason and reference_id) that start with =, +, -, @, a tab, a
carriage return or ' are written with a ``'`` before them, as OWASP advises against CSV
injection, so that no spreadsheet runs them as a formula. The import takes that quote
off again, so an exported targets file imports exactly what was exported (rows.py:
``spreadsheet_cell``, ``text_of_cell``). Destination cells are written as they are
(``+821100000001`` is the import's number form), and JSON Lines as the wire objects.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any, TextIO
from uuid import UUID

import orjson

from api import presenters
from api.bootstrap import bootstrap
from api.cli.rows import ADDRESS_EXTRAS, EXTRA_COLUMNS, spreadsheet_cell
from api.settings import Settings
from application.errors import NotFound
from application.service import OutdialService
from domain.address import is_e164
from domain.plan import DESTINATION_SLOTS
from domain.timeline import parse_timestamp
from projections.paging import PAGE_SIZE_MAX, Page
from projections.queries import ReadModelQueries

TARGET_COLUMNS = [
    "id",
    "name",
    "detail",
    "data",
    *(f"destination_{n}" for n in range(DESTINATION_SLOTS)),
    *EXTRA_COLUMNS,
    "status",
    *(f"try_count_{n}" for n in range(DESTINATION_SLOTS)),
    "tm_create",
    "tm_update",
    "tm_delete",
]
DIAL_COLUMNS = [
    "id",
    "outdial_id",
    "outdial_target_id",
    "destination_index",
    "destination",
    "try_count",
    "reference_id",
    "status",
    "result",
    "reason",
    "tm_start",
    "tm_end",
    "duration_ms",
    "actor",
    "manual",
    "plan",
    "time_zones",
]


class ExportRefused(Exception):
    """The command's arguments name nothing to export; the message says what to give."""


def export(settings: Settings, args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        services = stack.enter_context(bootstrap(settings))
        service, read_model = services.service, services.read_model
        try:
            if args.what == "targets":
                customer = _customer(service.customer_of_outdial, args.outdial_id, "outdial")
                rows, columns, cells = _targets(read_model.queries, customer, args.outdial_id)
            else:
                rows, columns, cells = _dials(read_model.queries, service, args)
        except ExportRefused as error:
            print(f"outdial export: {error}", file=sys.stderr)
            return 2
        out: TextIO = (
            stack.enter_context(open(args.output, "w", newline="", encoding="utf-8"))
            if args.output
            else sys.stdout
        )
        written = _write(out, args.format, rows, columns, cells)
    if args.output:
        print(f"exported {written} {args.what} to {args.output}", file=sys.stderr)
    return 0


def _write(
    out: TextIO,
    kind: str,
    rows: Iterator[dict[str, Any]],
    columns: list[str],
    cells: Callable[[dict[str, Any]], dict[str, Any]],
) -> int:
    written = 0
    if kind == "jsonl":
        for row in rows:
            out.write(orjson.dumps(row).decode() + "\n")
            written += 1
        return written
    # Rows end in CR LF (RFC 4180): with LF alone, csv leaves a cell holding a lone CR
    # unquoted, and that CR ends the row for every reader.
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(cells(row))
        written += 1
    return written


def _pages(next_page: Callable[[str], Page]) -> Iterator[dict[str, Any]]:
    token = ""
    while True:
        page = next_page(token)
        yield from page.rows
        token = page.next_page_token
        if not token:
            return


def _customer(customer_of: Callable[[UUID], UUID], aggregate_id: UUID, what: str) -> UUID:
    """The customer an outdial or a target belongs to (the console acts for all)."""
    try:
        return customer_of(aggregate_id)
    except NotFound:
        raise ExportRefused(f"no {what} {aggregate_id}") from None


def _targets(
    queries: ReadModelQueries, customer: UUID, outdial_id: UUID
) -> tuple[Iterator[dict[str, Any]], list[str], Callable[[dict[str, Any]], dict[str, Any]]]:
    rows = _pages(
        lambda token: queries.page_targets(
            customer, outdial_id, page_size=PAGE_SIZE_MAX, page_token=token, include_deleted=True
        )
    )
    return (presenters.target_row(row) for row in rows), TARGET_COLUMNS, _target_cells


def _dials(
    queries: ReadModelQueries, service: OutdialService, args: argparse.Namespace
) -> tuple[Iterator[dict[str, Any]], list[str], Callable[[dict[str, Any]], dict[str, Any]]]:
    if args.customer_id is not None:
        customer = args.customer_id
    elif args.outdial_id is not None:
        customer = _customer(service.customer_of_outdial, args.outdial_id, "outdial")
    elif args.target_id is not None:
        customer = _customer(service.customer_of_target, args.target_id, "target")
    else:
        msg = "export dials needs --customer-id, --outdial-id or --target-id"
        raise ExportRefused(msg)
    since = parse_timestamp(args.since) if args.since else None
    until = parse_timestamp(args.until) if args.until else None
    rows = _pages(
        lambda token: queries.search_dials(
            customer,
            outdial_id=args.outdial_id,
            target_id=args.target_id,
            destination=args.destination,
            reference_id=args.reference_id,
            actor=args.actor,
            result=args.result,
            since=since,
            until=until,
            page_size=PAGE_SIZE_MAX,
            page_token=token,
        )
    )
    return (presenters.dial_row(row) for row in rows), DIAL_COLUMNS, _dial_cells


def destination_cell(address: dict[str, str] | None) -> str:
    """An address as an import cell: an E.164 number alone, else ``type:target``."""
    if address is None:
        return ""
    if address["type"] == "tel" and is_e164(address["target"]):
        return address["target"]
    return f"{address['type']}:{address['target']}"


def _text_cell(value: str | None) -> str:
    return "" if value is None else spreadsheet_cell(value)


def _target_cells(target: dict[str, Any]) -> dict[str, Any]:
    cells = {k: v for k, v in target.items() if not k.startswith("destination_")}
    for text in ("name", "detail", "data"):
        cells[text] = _text_cell(target[text])
    for n in range(DESTINATION_SLOTS):
        address = target[f"destination_{n}"]
        cells[f"destination_{n}"] = destination_cell(address)
        for extra in ADDRESS_EXTRAS:
            cells[f"destination_{n}_{extra}"] = _text_cell(address.get(extra) if address else None)
    return cells


def _dial_cells(dial: dict[str, Any]) -> dict[str, Any]:
    return {
        **dial,
        "reference_id": _text_cell(dial["reference_id"]),
        "reason": _text_cell(dial["reason"]),
        "destination": destination_cell(dial["destination"]),
        "plan": orjson.dumps(dial["plan"]).decode(),
        "time_zones": " ".join(dial["time_zones"]),
        "tm_end": dial["tm_end"] or "",
        "duration_ms": "" if dial["duration_ms"] is None else dial["duration_ms"],
        "manual": str(dial["manual"]).lower(),
    }
