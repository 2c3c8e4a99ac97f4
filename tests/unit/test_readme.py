"""The README's settings table names every setting, so the documentation cannot drift."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_settings_table() -> None:
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `OUTDIAL_")]
    documented = {line.split("`")[1] for line in rows}
    expected = {f"OUTDIAL_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set()
    assert documented - expected == set()
