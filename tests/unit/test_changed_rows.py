"""A transaction's rows remember what they wrote (a rebuild's), up to a bound, and forget
every one when a statement of its own may have changed them."""

from __future__ import annotations

import sqlite3
from typing import Any

from projections.rows import ChangedRows, sqlite_placeholders


class CountingCursor:
    """A cursor that counts the SELECTs it is given."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor
        self.selects = 0

    def execute(self, statement: Any, params: Any = ()) -> Any:
        if statement.lstrip().upper().startswith("SELECT"):
            self.selects += 1
        return self._cursor.execute(statement, params)

    def executemany(self, statement: Any, params: Any) -> Any:
        return self._cursor.executemany(statement, params)

    def fetchall(self) -> Any:
        return self._cursor.fetchall()

    def fetchone(self) -> Any:
        return self._cursor.fetchone()


def rows_remembering(remember: int) -> tuple[ChangedRows, CountingCursor]:
    connection = sqlite3.connect(":memory:")
    connection.row_factory = sqlite3.Row
    connection.execute("CREATE TABLE do_not_call_prefix_lengths (id TEXT, length INTEGER)")
    cursor = CountingCursor(connection.cursor())
    return ChangedRows(cursor, sqlite_placeholders, remember=remember), cursor


def test_written_rows_stay_known_up_to_the_bound_and_the_oldest_are_read_back() -> None:
    rows, cursor = rows_remembering(2)
    for n in range(3):
        rows.execute(
            "INSERT INTO do_not_call_prefix_lengths VALUES (:id, :n)", {"id": str(n), "n": n}
        )
    for n in range(3):
        assert rows.get("do_not_call_prefix_lengths", str(n)) == {"id": str(n), "length": n}
    read = cursor.selects
    rows.update("do_not_call_prefix_lengths", "2", {"length": 20})
    rows.flush()
    assert rows.get("do_not_call_prefix_lengths", "2") == {"id": "2", "length": 20}
    assert rows.get("do_not_call_prefix_lengths", "1") == {"id": "1", "length": 1}
    assert cursor.selects == read  # the two newest: from memory
    assert rows.get("do_not_call_prefix_lengths", "0") == {"id": "0", "length": 0}
    assert cursor.selects == read + 1  # the oldest was forgotten: read back


def test_a_statement_of_its_own_forgets_every_row() -> None:
    rows, _ = rows_remembering(10)
    rows.execute("INSERT INTO do_not_call_prefix_lengths VALUES ('a', 1)")
    assert rows.get("do_not_call_prefix_lengths", "a") == {"id": "a", "length": 1}
    rows.execute("UPDATE do_not_call_prefix_lengths SET length = 2")
    assert rows.get("do_not_call_prefix_lengths", "a") == {"id": "a", "length": 2}


def test_without_a_bound_nothing_is_remembered_past_a_write_out() -> None:
    rows, cursor = rows_remembering(0)
    rows.execute("INSERT INTO do_not_call_prefix_lengths VALUES ('a', 1)")
    rows.get("do_not_call_prefix_lengths", "a")
    rows.flush()
    read = cursor.selects
    rows.get("do_not_call_prefix_lengths", "a")
    assert cursor.selects == read + 1
