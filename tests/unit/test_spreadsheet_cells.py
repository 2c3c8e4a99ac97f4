"""Free-text CSV cells an export quotes so that no spreadsheet runs them as a formula
(OWASP's leading ``'``), and the import's undoing of it: every text comes back exactly,
through the export's own CSV and the import's own reading of it too."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from api.cli.export import TARGET_COLUMNS, _target_cells, _write
from api.cli.rows import (
    FORMULA_STARTS,
    _fields,
    lines_of,
    slots_of,
    spreadsheet_cell,
    text_of_cell,
)
from domain.errors import InvalidValue
from domain.plan import DESTINATION_SLOTS
from domain.text import check_plain_text

# Texts that start like a formula, or with quotes, more often than arbitrary text does.
STARTS = "=+-@\t\r'\" "
texts = st.text() | st.builds(
    lambda head, tail: head + tail, st.text(alphabet=STARTS, min_size=1, max_size=3), st.text()
)


def _plain(text: str) -> bool:
    try:
        check_plain_text("text", text)
    except InvalidValue:
        return False
    return True


# What a target's free-text fields may hold (domain/text.py).
fields = (
    st.text(max_size=40)
    | st.builds(
        lambda head, tail: head + tail,
        st.text(alphabet=STARTS, min_size=1, max_size=3),
        st.text(max_size=40),
    )
).filter(_plain)


@given(texts)
@example("")
@example("'")
@example("''=")
@example("'x")
def test_the_import_reads_back_what_the_export_wrote(value: str) -> None:
    assert text_of_cell(spreadsheet_cell(value)) == value


@given(texts)
def test_no_exported_cell_starts_as_a_formula(value: str) -> None:
    assert spreadsheet_cell(value)[:1] not in FORMULA_STARTS - {"'"}


@given(texts)
def test_a_value_that_starts_otherwise_is_written_and_read_as_it_is(value: str) -> None:
    if value[:1] not in FORMULA_STARTS:
        assert spreadsheet_cell(value) == value
        assert text_of_cell(value) == value


@given(fields, fields, fields, fields, fields, fields)
@example("=1+1", "+1", "-1", "@A1", "\tx", "\r\ny")
@example("'", "''", "'=", "a\rb", "\r", "'\r")
def test_an_exported_target_imports_with_the_same_texts(
    name: str, detail: str, data: str, target_name: str, address_name: str, address_detail: str
) -> None:
    extras = {"target_name": target_name, "name": address_name, "detail": address_detail}
    address = {"type": "tel", "target": "+821100000001", **extras}
    target: dict[str, Any] = {
        "id": "0",
        "name": name,
        "detail": detail,
        "data": data,
        **{f"destination_{n}": None for n in range(DESTINATION_SLOTS)},
        "destination_0": address,
    }
    out = io.StringIO(newline="")
    _write(out, "csv", iter([target]), TARGET_COLUMNS, _target_cells)
    read = list(lines_of(io.StringIO(out.getvalue(), newline="")))
    ((_, row),) = read
    destinations, *texts_read = _fields(row, slots_of(TARGET_COLUMNS))
    assert texts_read == [name, detail, data]
    assert destinations[0] is not None
    assert destinations[0].as_dict() == address
    assert destinations[1:] == [None] * (DESTINATION_SLOTS - 1)
