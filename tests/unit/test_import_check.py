"""The check of a campaign list before an import: every bad row by its line, field and
reason, whatever its line ends are, and one clear line for a file that cannot be read."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import rows
from api.cli.rows import Malformed, NotUTF8, Problem, check, header_of, slots_of

HEADER = ["name", "destination_0", "destination_1"]


def _file(tmp_path: Path, body: str, *, newline: str = "\n", bom: bool = False) -> Path:
    path = tmp_path / "list.csv"
    text = body.replace("\n", newline)
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


def _list(count: int, *, bad_every: int = 7, quoted_every: int = 5) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for n in range(count):
        name = f"row {n}\nwith a line break, and a comma" if n % quoted_every == 0 else f"r{n}"
        tel = "12345" if n % bad_every == 3 else f"+8211{n:08d}"
        writer.writerow([name, tel, f"sip:r{n}@example.com"])
    return out.getvalue()


def _checked(path: Path) -> tuple[list[Problem], int]:
    return check(path, HEADER, keep_ids=False, slots=slots_of(HEADER))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_every_bad_row_is_named_by_the_line_it_ends_on(tmp_path: Path, newline: str) -> None:
    path = _file(tmp_path, _list(400, quoted_every=100), newline=newline, bom=True)
    problems, valid = _checked(path)
    assert valid == 400 - len(problems)
    assert len(problems) == 57
    assert problems[0].line == 6  # row 3, after the header, row 0 (two lines), rows 1 and 2


def test_lines_ending_in_a_carriage_return_alone_are_read_as_lines(tmp_path: Path) -> None:
    path = _file(tmp_path, "name,destination_0\na,+821100000001\nb,123\n", newline="\r")
    problems, valid = check(path, ["name", "destination_0"], keep_ids=False, slots=slots_of(HEADER))
    assert valid == 1
    assert [(p.line, p.field) for p in problems] == [(3, "destination_0.type")]


def test_a_file_not_utf8_names_the_line(tmp_path: Path) -> None:
    lines = [",".join(HEADER)] + [f"r{n},+8211{n:08d}," for n in range(300)]
    lines[250] = b"Kim Min-jun".decode() + ",+821100000001,"
    data = "\n".join(lines).encode().replace(b"Kim Min-jun", "김민준".encode("euc-kr"))
    path = tmp_path / "list.csv"
    path.write_bytes(data + b"\n")
    with pytest.raises(NotUTF8) as raised:
        _checked(path)
    assert raised.value.line == 251
    assert str(raised.value) == ("line 251: the file is not UTF-8 text (save it as 'CSV UTF-8')")


# Line ends a file may have: every rule below holds with each.
READINGS = ["line feeds", "carriage returns"]
PAD = 300  # the good rows _read puts in a file besides the lines it is given


@pytest.fixture
def field_limit() -> Iterator[None]:
    """csv's cell limit is the process's: put back what it was for the tests after."""
    before = csv.field_size_limit()
    yield
    csv.field_size_limit(before)


def _read(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    reading: str,
    lines: list[str],
    *,
    padded: str = "before",
) -> tuple[list[Problem], int]:
    """The check of a file of these lines, with PAD good rows before the lines after the
    header or after them."""
    padding = [f"pad{n},+8211{n:08d}" for n in range(PAD)]
    body = [*padding, *lines[1:]] if padded == "before" else [*lines[1:], *padding]
    path = _file(
        tmp_path,
        "\n".join([lines[0], *body]) + "\n",
        newline="\r" if reading == "carriage returns" else "\n",
    )
    header = lines[0].split(",")
    return check(path, header, keep_ids=False, slots=slots_of(header))


@pytest.mark.usefixtures("field_limit")
@pytest.mark.parametrize("reading", READINGS)
def test_a_cell_of_megabytes_is_a_bad_row_like_any_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str
) -> None:
    big = "x" * 2 * 2**20
    lines = ["name,destination_0,data", f"a,+821100000001,{big}", f'b,+821100000002,"{big}"']
    problems, valid = _read(tmp_path, monkeypatch, reading, lines)
    assert [str(p) for p in problems] == [
        f"line {line}: data: must be at most 16384 characters, got {len(big)}"
        for line in (PAD + 2, PAD + 3)
    ]
    assert valid == PAD


@pytest.mark.usefixtures("field_limit")
@pytest.mark.parametrize("reading", READINGS)
def test_a_cell_beyond_the_cell_limit_stops_the_check_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str
) -> None:
    monkeypatch.setattr(rows, "CELL_LIMIT", 1000)  # a small file can be past it
    lines = ["name,destination_0,data", "a,+821100000001,x", f'b,+821100000002,"{"y" * 1001}"']
    with pytest.raises(Malformed) as raised:
        _read(tmp_path, monkeypatch, reading, lines)
    assert str(raised.value) == (
        f"line {PAD + 3}: a cell is longer than 1000 characters, or a quoted cell is not closed"
    )


@pytest.mark.usefixtures("field_limit")
def test_the_cell_limit_is_far_beyond_any_field(tmp_path: Path) -> None:
    """A cell longer than csv's own limit (131,072) is read; one beyond CELL_LIMIT is not."""
    assert rows.CELL_LIMIT >= 2**24
    lines = ["name,destination_0,data", f"a,+821100000001,{'x' * 200_000}"]
    path = _file(tmp_path, "\n".join(lines) + "\n")
    assert [p.field for p in _checked_with(path, lines[0])[0]] == ["data"]
    path = _file(tmp_path, lines[0] + "\na,+821100000001," + "x" * (rows.CELL_LIMIT + 1) + "\n")
    with pytest.raises(Malformed) as raised:
        _checked_with(path, lines[0])
    assert raised.value.line == 2


def _checked_with(path: Path, header_line: str) -> tuple[list[Problem], int]:
    header = header_line.split(",")
    return check(path, header, keep_ids=False, slots=slots_of(header))


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("padded", ["before", "after"])
def test_a_quote_not_closed_stops_the_check_at_the_line_it_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str, padded: str
) -> None:
    """csv would read on to the end of the file as one cell."""
    lines = ["name,destination_0", "a,+821100000001", '"Kim, Min-jun,+821100000001', "c,+8211"]
    with pytest.raises(Malformed) as raised:
        _read(tmp_path, monkeypatch, reading, lines, padded=padded)
    line = PAD + 3 if padded == "before" else 3
    assert str(raised.value) == f"line {line}: a quoted cell is not closed"


@pytest.mark.parametrize("reading", READINGS)
def test_text_after_a_closing_quote_stops_the_check_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str
) -> None:
    lines = ["name,destination_0", '"Kim" Min-jun,+821100000001', "c,+821100000002"]
    with pytest.raises(Malformed) as raised:
        _read(tmp_path, monkeypatch, reading, lines)
    assert str(raised.value) == (
        f"line {PAD + 2}: a quoted cell has text after its closing quote (a quote inside it is "
        'written "")'
    )


@pytest.mark.parametrize("reading", READINGS)
def test_cells_beyond_the_header_are_a_bad_row_unless_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str
) -> None:
    lines = [
        "name,destination_0",
        "a,+821100000001,shifted,,",  # a comma too many before it, say
        "b,+821100000002,,,",  # a spreadsheet's trailing commas
        ",,,x",  # nothing in the header's columns
        "d,+821100000004",
    ]
    problems, valid = _read(tmp_path, monkeypatch, reading, lines)
    assert [str(p) for p in problems] == [
        f"line {PAD + 2}: has 3 cells, the header has 2",
        f"line {PAD + 4}: has 4 cells, the header has 2",
    ]
    assert valid == PAD + 2


def test_a_header_naming_a_column_twice_is_refused_before_any_row_is_read(
    tmp_path: Path,
) -> None:
    path = _file(tmp_path, "name,destination_0,notes,name,notes\nA,+821100000001,x,B,y\n")
    assert header_of(path, keep_ids=False) == (
        "the header names column name twice (columns 1 and 4)"
    )
    path = _file(tmp_path, "name,destination_0,notes,,notes,\nA,+821100000001,x,,y,\n")
    assert header_of(path, keep_ids=False) == ["name", "destination_0", "notes", "", "notes", ""]


def test_a_header_that_is_not_csv_is_one_line(tmp_path: Path) -> None:
    path = _file(tmp_path, 'name,"destination_0\nA,+821100000001\n')
    with pytest.raises(Malformed) as raised:
        header_of(path, keep_ids=False)
    assert str(raised.value) == "line 1: a quoted cell is not closed"
