"""docs/design.md against the code, so it cannot drift: its table of the read model's
indexes is the one the migrations make (adapters/migrations.py), every module path the
documentation names in backticks exists, and every link between the documents lands on a
file and a heading of the repository."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from adapters.migrations import READ_MODEL, Migration

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "docs" / "design.md"
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
# The top-level folders a path in a document may start with.
ROOMS = [
    "domain",
    "application",
    "adapters",
    "projections",
    "api",
    "tests",
    "benchmarks",
    "reliability",
    "docs",
]

_CREATE = re.compile(
    r"CREATE INDEX (?:IF NOT EXISTS )?(\w+)\s+ON (\w+) \(([^)]*)\)(?: WHERE (.+))?$", re.I
)
_DROP = re.compile(r"DROP INDEX (?:IF EXISTS )?(\w+)", re.I)
# `room/...` in backticks: a module, a package or a file of the repository.
_PATH = re.compile(rf"`((?:{'|'.join(ROOMS)})/[\w./-]*)`")

# [text](target): a link, its target without the anchor, and the anchor.
_LINK = re.compile(r"\]\(([^)\s#]*)(?:#([^)\s]*))?\)")

# (table, columns as "a, b, c", the rows it holds: "all" or a partial index's condition)
Index = tuple[str, str, str]


def indexes_made(statements: list[str]) -> dict[str, Index]:
    """The indexes a store has after these statements, in order: name -> (table, columns)."""
    made: dict[str, Index] = {}
    for statement in statements:
        if created := _CREATE.search(statement):
            name, table, columns, condition = created.groups()
            columns = ", ".join(c.strip() for c in columns.split(","))
            made[name] = (table, columns, condition or "all")
        elif dropped := _DROP.search(statement):
            made.pop(dropped.group(1), None)
    return made


def statements(migrations: tuple[Migration, ...], store: str) -> list[str]:
    steps = [step for m in migrations for step in getattr(m, store)]
    return [step for step in steps if isinstance(step, str)]  # not AddColumn nor Backfill


def documented_indexes() -> dict[str, Index]:
    """The rows of design.md's table whose header starts ``| index | table | columns |``."""
    lines = DESIGN.read_text().splitlines()
    start = next(
        n for n, line in enumerate(lines) if line.startswith("| index | table | columns |")
    )
    rows: dict[str, Index] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        assert cells[0] not in rows, f"design.md lists index {cells[0]} twice"
        rows[cells[0]] = (cells[1], cells[2], cells[3])
    return rows


def test_the_migrations_make_the_same_indexes_on_both_stores() -> None:
    sqlite = indexes_made(statements(READ_MODEL.migrations, "sqlite"))
    postgres = indexes_made(statements(READ_MODEL.migrations, "postgres"))
    assert sqlite
    assert sqlite == postgres


def test_the_design_lists_the_read_models_indexes_as_the_migrations_make_them() -> None:
    made = indexes_made(statements(READ_MODEL.migrations, "sqlite"))
    documented = documented_indexes()
    assert sorted(documented.keys() - made.keys()) == [], "listed, but no migration makes it"
    assert sorted(made.keys() - documented.keys()) == [], "made by a migration, but not listed"
    for name, index in made.items():
        assert documented[name] == index, (
            f"design.md has index {name} as {documented[name]}; the migrations make it {index}"
        )


def test_the_index_table_reads_a_dropped_index_as_gone() -> None:
    """What the table check relies on: a later DROP INDEX takes an index out."""
    assert (
        indexes_made(["CREATE INDEX IF NOT EXISTS a ON t (x, y)", "DROP INDEX IF EXISTS a"]) == {}
    )
    assert indexes_made(["CREATE INDEX b ON t (x,y)"]) == {"b": ("t", "x, y", "all")}
    assert indexes_made(["CREATE INDEX c ON t (x) WHERE y = 'z'"]) == {"c": ("t", "x", "y = 'z'")}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_path_a_document_names_exists(document: Path) -> None:
    named = sorted(set(_PATH.findall(document.read_text())))
    missing = [path for path in named if not (ROOT / path).exists()]
    assert missing == [], f"{document.name} names paths that do not exist"


def test_the_design_maps_every_room_the_import_contracts_name() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    rooms = {line.split("`")[1] for line in DESIGN.read_text().splitlines() if line[:3] == "| `"}
    assert {f"{room}/" for room in contracts["root_packages"]} <= rooms


def anchors(document: Path) -> set[str]:
    """The anchors of a document's headings, as they are made of the heading's words."""
    found = set()
    fenced = False
    for line in document.read_text().splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("#") and not fenced:
            words = line.lstrip("#").strip().lower().replace("`", "")
            found.add(re.sub(r"[^\w\- ]", "", words).replace(" ", "-"))
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_link_lands_in_the_repository(document: Path) -> None:
    for target, anchor in _LINK.findall(document.read_text()):
        assert "://" not in target, f"{document.name} links outside the repository: {target}"
        landing = (document.parent / target).resolve() if target else document
        assert landing.exists(), f"{document.name} links to {target}, which does not exist"
        if anchor and landing.suffix == ".md":
            assert anchor in anchors(landing), f"{document.name}: no heading #{anchor} in {target}"
