"""The settings table of docs/operations.md names every setting of api/settings.py, and no
other, with the flag and the default the code gives it, so the documentation cannot drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.settings import Settings

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def settings_rows() -> dict[str, list[str]]:
    """The table's rows by variable: the cells of each ``| `OUTDIAL_X` | ... |`` line."""
    rows: dict[str, list[str]] = {}
    for line in OPERATIONS.read_text().splitlines():
        if line.startswith("| `OUTDIAL_"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            variable = cells[0].strip("`")
            assert variable not in rows, f"{variable} has two rows"
            rows[variable] = cells
    return rows


def default_text(value: Any) -> str:
    """A default as the table writes it."""
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        return f"`./{value}`"
    return f"`{value}`"


def test_every_setting_is_in_the_settings_table() -> None:
    documented = set(settings_rows())
    expected = {f"OUTDIAL_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set()
    assert documented - expected == set()


def test_each_row_gives_the_settings_flag_and_default() -> None:
    rows = settings_rows()
    for name, field in Settings.model_fields.items():
        variable, flag, default, _meaning = rows[f"OUTDIAL_{name.upper()}"]
        assert flag.startswith(f"`--{name.replace('_', '-')}`"), (variable, flag)
        assert default == default_text(field.default), (variable, default)
