"""The rows of a campaign list: its header, each row's checked fields and derived id, and
the check of a whole file, every row, before an import writes any of them.

A file is read as strict CSV: a quote not closed, or text after a closing quote, stops the
import at that line (nothing after it can be told apart from the cell), as does a cell far
beyond any field's limit (CELL_LIMIT). A header naming a column the import reads twice is
refused; a row with non-empty cells beyond the header's is a bad row (empty ones, a
spreadsheet's trailing commas, are ignored).

Free-text cells (name, detail, data, a destination's target_name, name and detail) are
written by `outdial export` so that no spreadsheet runs them as a formula, as OWASP
advises for CSV: a value starting with one of FORMULA_STARTS gets a leading ``'``. The
import takes that quote off again (a cell ``'`` followed by one of FORMULA_STARTS is read
without its first character), so an exported file imports exactly what was exported.
Destination cells are never quoted so: ``+821100000001`` is the import's number form.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from uuid import UUID

from application.importing import Identity
from application.service import NewTarget
from domain.address import IMPLIED_TYPE, Address, is_e164
from domain.errors import InvalidValue
from domain.plan import DESTINATION_SLOTS
from domain.text import checked_data, checked_detail, checked_name

if TYPE_CHECKING:
    from _csv import Reader

# A cell's address fields beyond type and target, each in a column of its own; what
# `outdial export targets` writes, so that its file imports again.
ADDRESS_EXTRAS = ("target_name", "name", "detail")
EXTRA_COLUMNS = tuple(
    f"destination_{n}_{extra}" for n in range(DESTINATION_SLOTS) for extra in ADDRESS_EXTRAS
)
KNOWN = {
    "name",
    "detail",
    "data",
    *(f"destination_{n}" for n in range(DESTINATION_SLOTS)),
    *EXTRA_COLUMNS,
}
# Free-text cells that start with one of these are quoted on export (OWASP: a spreadsheet
# would run a cell starting =, +, -, @, tab or carriage return as a formula; the quote
# itself is among them so that taking the quote off again is never ambiguous).
FORMULA_STARTS = frozenset("=+-@\t\r'")
# Far beyond the longest valid cell (data, 16,384 characters), so that a long cell is a
# bad row like any other; a cell longer than this stops the import.
CELL_LIMIT = 16 * 2**20

# A row's cells by column name; key None, when there, holds (cells, header's) of a row
# with non-empty cells beyond the header's columns.
Row = dict[str | None, Any]


def spreadsheet_cell(value: str) -> str:
    """A free-text value as an exported CSV cell that no spreadsheet runs as a formula."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def text_of_cell(cell: str) -> str:
    """What ``spreadsheet_cell`` made this cell of: the cell without a quote it added."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS else cell


@dataclass(frozen=True)
class Problem:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field + ': ' if self.field else ''}{self.reason}"


def columns_of(path: Path) -> list[str]:
    """The file's first row, its column names; Unreadable when it cannot be read (not
    text, or its first row not CSV)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            return _first_row(_reader(file))
    except UnicodeDecodeError:
        raise NotUTF8(_first_line_not_utf8(path)) from None


def named_twice(header: list[str], known: Iterable[str]) -> str | None:
    """What is wrong with a header naming a column it reads twice (an ignored column may
    come twice), or None."""
    reads = set(known)
    where: dict[str, int] = {}
    for number, column in enumerate(header, 1):
        if column in reads:
            if column in where:
                return (
                    f"the header names column {column} twice (columns {where[column]} and {number})"
                )
            where[column] = number
    return None


def header_of(path: Path, *, keep_ids: bool) -> list[str] | str:
    """The file's column names, or what is wrong with them; Unreadable when it cannot be
    read (not text, or its first row not CSV)."""
    header = columns_of(path)
    if not header:
        return "the file is empty: it needs a header row (name, destination_0, ...)"
    twice = named_twice(header, [*KNOWN, "id"])
    if twice:
        return twice
    if keep_ids and "id" not in header:
        return "--keep-ids needs an id column"
    if not any(c.startswith("destination_") for c in header):
        return "the header has no destination_0 .. destination_4 column"
    return header


def targets_of(
    file: TextIO, *, keep_ids: bool, slots: Slots, identify: Identity
) -> Iterator[NewTarget]:
    """The target of each valid row; bad rows are passed over (the check already refused
    them, or --skip-invalid lists them)."""
    for line, row in lines_of(file):
        try:
            yield _target(row, line, keep_ids, slots, identify)
        except InvalidValue:
            continue


class Unreadable(Exception):
    """The file cannot be read on from this line: the rest of it cannot be told into rows,
    so nothing is imported, --skip-invalid or not."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(line, reason)
        self.line = line
        self.reason = reason

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class NotUTF8(Unreadable):
    """The file is not UTF-8 text at this line."""

    def __init__(self, line: int, reason: str = "") -> None:
        super().__init__(line, reason or "the file is not UTF-8 text (save it as 'CSV UTF-8')")


class Malformed(Unreadable):
    """The file is not CSV at this line (a quote not closed, say)."""


def _malformed(error: csv.Error, start: int, line: int) -> Malformed:
    """What csv's error means, at the line to look at: where the row began when csv read
    on to the end of the file or past the cell limit, else where it stopped."""
    said = str(error)
    if said == "unexpected end of data":
        return Malformed(start, "a quoted cell is not closed")
    if said.startswith("field larger than field limit"):
        limit = csv.field_size_limit()
        return Malformed(
            start, f"a cell is longer than {limit} characters, or a quoted cell is not closed"
        )
    if " expected after " in said:
        reason = 'a quoted cell has text after its closing quote (a quote inside it is written "")'
        return Malformed(line, reason)
    return Malformed(line, said)


def check(
    path: Path, header: list[str], *, keep_ids: bool, slots: Slots
) -> tuple[list[Problem], int]:
    """Every row of the file checked: the bad ones by line, field and reason, and how many
    are good; Unreadable (NotUTF8, Malformed) when a line cannot be read."""

    def judge(row: Row) -> None:
        # What _target checks, in its order; an id derived from a row never fails.
        _fields(row, slots)
        if keep_ids:
            _kept_id(row)

    return check_rows(path, judge)


def check_rows(path: Path, judge: Callable[[Row], object]) -> tuple[list[Problem], int]:
    """Every row of the file judged (``judge`` raises InvalidValue naming the cell at
    fault): the bad ones by line, field and reason, and how many are good; Unreadable
    (NotUTF8, Malformed) when a line cannot be read."""
    problems: list[Problem] = []
    valid = 0
    with path.open(newline="", encoding="utf-8-sig") as file:
        try:
            for line, row in lines_of(file):
                try:
                    judge(row)
                except InvalidValue as error:
                    problems.append(Problem(line, error.field, error.problem))
                else:
                    valid += 1
        except UnicodeDecodeError:
            raise NotUTF8(_first_line_not_utf8(path)) from None
    return problems, valid


def _reader(lines: Iterable[str]) -> Reader:
    """Strict CSV: malformed quoting is an error, not a cell read on to the end of the file."""
    csv.field_size_limit(CELL_LIMIT)
    return csv.reader(lines, strict=True)


def _first_row(reader: Reader) -> list[str]:
    try:
        return next(reader, [])
    except csv.Error as error:
        raise _malformed(error, 1, reader.line_num) from None


def _rows_of(reader: Reader, header: list[str]) -> Iterator[tuple[int, Row]]:
    """The rows with a value, by column, and the line each ends on; Malformed where a row
    cannot be read."""
    width = len(header)
    start = reader.line_num + 1
    try:
        for cells in reader:
            if any(cells):
                row: Row = dict(zip(header, cells, strict=False))
                if len(cells) > width and any(cells[width:]):
                    used = width + max(n for n, c in enumerate(cells[width:], 1) if c)
                    row[None] = (used, width)
                yield reader.line_num, row
            start = reader.line_num + 1
    except csv.Error as error:
        raise _malformed(error, start, reader.line_num) from None


# What decoding with surrogateescape makes of bytes that are not UTF-8.
_ESCAPED = re.compile("[\udc80-\udcff]")


def _first_line_not_utf8(path: Path) -> int:
    """The number of the first line that is not UTF-8: text mode decodes a file a block
    at a time, so its error does not say which line."""
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as file:
        for number, line in enumerate(file, 1):
            if _ESCAPED.search(line):
                return number
    return 1


def lines_of(file: Iterable[str]) -> Iterator[tuple[int, Row]]:
    reader = _reader(file)
    return _rows_of(reader, _first_row(reader))


Fields = tuple[list[Address | None], str, str, str]


def _target(row: Row, line: int, keep_ids: bool, slots: Slots, identify: Identity) -> NewTarget:
    destinations, name, detail, data = _fields(row, slots)
    target_id = _kept_id(row) if keep_ids else identify(row, line)
    return NewTarget(destinations, name=name, detail=detail, data=data, id=target_id)


def _fields(row: Row, slots: Slots) -> Fields:
    """The row's destinations and texts, checked; InvalidValue names the first bad one."""
    if None in row:  # cells the header names no column for: the row may be shifted
        used, width = row[None]
        raise InvalidValue("", f"has {used} cells, the header has {width}")
    destinations: list[Address | None] = [None] * DESTINATION_SLOTS
    for slot in slots:
        destinations[slot.index] = _address(row, slot)
    if all(d is None for d in destinations):
        raise InvalidValue("destination_0", "at least one destination must be set")
    name = checked_name(text_of_cell(row.get("name") or ""))
    detail = checked_detail(text_of_cell(row.get("detail") or ""))
    data = checked_data(text_of_cell(row.get("data") or ""))
    return destinations, name, detail, data


def _kept_id(row: Row) -> UUID:
    try:
        return UUID(row.get("id") or "")
    except ValueError:
        raise InvalidValue("id", "is not a UUID") from None


@dataclass(frozen=True)
class _Slot:
    """The columns of one destination slot that a file has."""

    index: int
    cell: str
    extras: tuple[tuple[str, str], ...]  # (address field, column)


Slots = tuple[_Slot, ...]


def slots_of(header: list[str]) -> Slots:
    """The destination slots a header has columns for, each with the extra columns it
    has: a slot without columns is unset in every row, and most files have no extras."""
    present = set(header)
    slots = []
    for n in range(DESTINATION_SLOTS):
        cell = f"destination_{n}"
        extras = tuple((e, f"{cell}_{e}") for e in ADDRESS_EXTRAS if f"{cell}_{e}" in present)
        if cell in present or extras:
            slots.append(_Slot(n, cell, extras))
    return tuple(slots)


def _address(row: Row, slot: _Slot) -> Address | None:
    """A cell as the spreadsheet holds it: an E.164 number, or ``type:target``."""
    cell = (row.get(slot.cell) or "").strip()
    extras = {
        extra: text_of_cell(value) for extra, column in slot.extras if (value := row.get(column))
    }
    field = slot.cell
    if not cell:
        if extras:
            raise InvalidValue(field, "is empty but its other fields are not")
        return None
    if cell.startswith("+"):
        if not extras and is_e164(cell):
            # What Address.parse makes of a bare number, without its general checks:
            # most lists are numbers, and parsing was a third of an import's time.
            return Address(IMPLIED_TYPE, cell)
        return Address.parse({"target": cell, **extras}, field)
    kind, sep, target = cell.partition(":")
    raw = {"type": kind, "target": target} if sep else {"target": cell}
    return Address.parse({**raw, **extras}, field)
