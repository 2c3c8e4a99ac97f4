"""The migrations' own rules, with no store: versions in order, locations fit to print,
and tables in memory made by them."""

from __future__ import annotations

from uuid import uuid4

from adapters.idempotency_table import SQLiteIdempotencyTable
from adapters.keys import ApiKeys, SQLiteKeyTable
from adapters.migrations import SCHEMAS, describe


def test_each_schema_numbers_its_migrations_from_1_without_a_gap() -> None:
    assert [schema.name for schema in SCHEMAS] == [
        "access",
        "idempotency",
        "webhooks",
        "target_keys",
        "read_model",
    ]
    for schema in SCHEMAS:
        versions = [migration.version for migration in schema.migrations]
        assert versions == list(range(1, len(versions) + 1)), schema.name
        assert schema.latest == len(versions)
        assert all(m.name and m.sqlite and m.postgres for m in schema.migrations)


def test_a_postgresql_location_is_printed_without_its_user_and_password() -> None:
    assert describe("postgresql://user:secret@db.example:6543/outdial") == (
        "PostgreSQL db.example:6543/outdial"
    )
    assert describe("/srv/outdial/readmodel.sqlite3") == "/srv/outdial/readmodel.sqlite3"


def test_tables_in_memory_are_made_by_the_migrations() -> None:
    keys = ApiKeys(SQLiteKeyTable.in_memory())
    customer = uuid4()
    assert keys.customer_of(keys.create(customer)) == customer
    table = SQLiteIdempotencyTable.in_memory()
    assert table.insert("c", "k", "f", "s", 1.0)
    assert table.get("c", "k") is not None
