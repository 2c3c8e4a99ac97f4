"""The check of a campaign list before an import: the same problems, numbered by the same
lines, whether one process reads the file or two read a half each, wherever the half-way
line break falls (inside a quoted cell too), and one clear line for a file not UTF-8."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from api.cli import rows
from api.cli.rows import NotUTF8, Problem, check, slots_of

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


def _half_way_is_inside_a_cell(path: Path) -> bool:
    """Whether the line break the check splits at has an odd number of quotes before it."""
    with path.open("rb") as file:
        at = rows._line_break_after(file, path.stat().st_size // 2)
    return path.read_bytes()[:at].count(b'"') % 2 == 1


def _checked(path: Path) -> tuple[list[Problem], int]:
    return check(path, HEADER, keep_ids=False, slots=slots_of(HEADER))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_two_halves_find_what_one_pass_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str
) -> None:
    path = _file(tmp_path, _list(400, quoted_every=100), newline=newline, bom=True)
    assert not _half_way_is_inside_a_cell(path)
    alone = _checked(path)
    assert alone[1] == 400 - len(alone[0])
    assert len(alone[0]) == 57
    assert alone[0][0].line == 6  # row 3, after the header, row 0 (two lines), rows 1 and 2
    monkeypatch.setattr(rows, "SPLIT_FROM", 0)
    assert _checked(path) == alone


def test_a_half_way_break_inside_a_quoted_cell_is_read_on_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row's name spans many lines: the break past half-way is inside a cell."""
    names = "\n".join(["x"] * 40)
    body = "name,destination_0\n" + "".join(f'"{names}",+8211{n:08d}\n' for n in range(5))
    body += "bad,123\n"
    path = _file(tmp_path, body)
    assert _half_way_is_inside_a_cell(path)
    alone = check(path, ["name", "destination_0"], keep_ids=False, slots=slots_of(HEADER))
    monkeypatch.setattr(rows, "SPLIT_FROM", 0)
    halves = check(path, ["name", "destination_0"], keep_ids=False, slots=slots_of(HEADER))
    assert halves == alone
    assert [p.line for p in halves[0]] == [2 + 5 * 40]
    assert halves[1] == 5


def test_lines_ending_in_a_carriage_return_alone_are_read_as_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rows, "SPLIT_FROM", 0)
    path = _file(tmp_path, "name,destination_0\na,+821100000001\nb,123\n", newline="\r")
    problems, valid = check(path, ["name", "destination_0"], keep_ids=False, slots=slots_of(HEADER))
    assert valid == 1
    assert [(p.line, p.field) for p in problems] == [(3, "destination_0.type")]


@pytest.mark.parametrize("split", [False, True])
def test_a_file_not_utf8_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    if split:
        monkeypatch.setattr(rows, "SPLIT_FROM", 0)
    lines = [",".join(HEADER)] + [f"r{n},+8211{n:08d}," for n in range(300)]
    lines[250] = b"Kim Min-jun".decode() + ",+821100000001,"
    data = "\n".join(lines).encode().replace(b"Kim Min-jun", "김민준".encode("euc-kr"))
    path = tmp_path / "list.csv"
    path.write_bytes(data + b"\n")
    with pytest.raises(NotUTF8) as raised:
        _checked(path)
    assert raised.value.line == 251
    assert str(raised.value) == ("line 251: the file is not UTF-8 text (save it as 'CSV UTF-8')")
